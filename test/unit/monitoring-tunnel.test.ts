import { describe, expect, it } from 'vitest';
import { UsageError } from '../../scripts/core/errors';
import type { FleetOutputs } from '../../scripts/core/env-record';
import { defaultTunnelTarget, planTunnel } from '../../scripts/monitoring/tunnel';

const OUT: FleetOutputs = {
  env: 'demo', target: 'aws', engine: 'locust', expiresAt: '2026-11-25T18:00:00Z', sshUser: 'ec2-user',
  hosts: [
    { role: 'controller', group: 'controller', name: 'controller', id: 'i-0c', publicIp: '54.0.0.10', privateIp: '10.42.0.10' },
    { role: 'monitoring', group: 'monitoring', name: 'monitoring', id: 'i-0m', publicIp: '54.0.0.14', privateIp: '10.42.0.14' },
  ],
  master: { address: '10.42.0.10', port: 5557 },
};
const base = { monitoringEnabled: true, privateKeyPath: '/k/id', knownHostsFile: '/e/known_hosts' };

describe('tunnel plan', () => {
  it('forwards Grafana through the monitoring host with the env\'s pinned known_hosts and strict checking', () => {
    const p = planTunnel(OUT, { ...base, target: 'grafana' });
    expect(p.url).toBe('http://127.0.0.1:3000/dashboards');
    expect(p.argv).toEqual(expect.arrayContaining(['StrictHostKeyChecking=yes', 'UserKnownHostsFile=/e/known_hosts', 'ExitOnForwardFailure=yes', 'IdentityFile=/k/id', 'GlobalKnownHostsFile=/dev/null', '127.0.0.1:3000:10.42.0.14:3000', 'ec2-user@54.0.0.14']));
    expect(p.argv.join(' ')).not.toMatch(/StrictHostKeyChecking=(no|accept-new)/);
  });

  it('forwards the controller UI of the engine and Prometheus, on a chosen local port', () => {
    // Locust's UI listens on the controller's loopback only: the far end of the tunnel is the controller's 127.0.0.1.
    const c = planTunnel(OUT, { ...base, target: 'controller' });
    expect(c.argv).toContain('127.0.0.1:8089:127.0.0.1:8089');
    expect(c.remote).toEqual({ host: '127.0.0.1', port: 8089 });
    expect(planTunnel({ ...OUT, engine: 'ngrinder' }, { ...base, target: 'controller', localPort: 80 }).argv).toContain('127.0.0.1:80:10.42.0.10:80');
    expect(planTunnel(OUT, { ...base, target: 'prometheus', localPort: 19090 }).url).toBe('http://127.0.0.1:19090/targets');
    expect(defaultTunnelTarget(OUT)).toBe('grafana');
    expect(defaultTunnelTarget({ target: 'local' })).toBe('prometheus');
  });

  it('listens on a high local port for nGrinder\'s port 80 by default, so an ordinary user can open the tunnel', () => {
    const p = planTunnel({ ...OUT, engine: 'ngrinder' }, { ...base, target: 'controller' });
    expect(p.localPort).toBe(8080);
    expect(p.localPortFrom).toBe('high');
    expect(p.argv).toContain('127.0.0.1:8080:10.42.0.10:80');
    expect(p.url).toBe('http://127.0.0.1:8080/');
    expect(planTunnel(OUT, { ...base, target: 'grafana' }).localPortFrom).toBe('same');
  });

  it('fails with a usage error for an unknown target, an engine without UI, disabled monitoring or Grafana locally', () => {
    expect(() => planTunnel(OUT, { ...base, target: 'kibana' })).toThrow(/tunnel target "kibana" is unknown: use one of grafana, prometheus, controller/);
    expect(() => planTunnel({ ...OUT, engine: 'k6' }, { ...base, target: 'controller' })).toThrow(/engine k6 has no web UI/);
    expect(() => planTunnel(OUT, { ...base, target: 'prometheus', monitoringEnabled: false })).toThrow(UsageError);
    expect(() => planTunnel({ ...OUT, target: 'local' }, { ...base, target: 'grafana' })).toThrow(/not installed on the local target/);
  });
});

describe("install's monitoring lines (issue 20.9: passwords over plain HTTP only through the tunnel)", () => {
  const envDir = { file: (n: string) => `/home/u/.loadfleet/demo/${n}` } as never;
  it('sends people to Grafana and to the nGrinder controller through loadfleet tunnel, never to a public IP', async () => {
    const { monitoringUrls } = await import('../../scripts/actions/monitoring');
    const lines = monitoringUrls({ outputs: { ...OUT, engine: 'ngrinder', master: { address: '10.42.0.10', port: 16001 } }, envDir });
    const grafana = lines.find((l) => l.startsWith('Grafana:'))!;
    expect(grafana).toBe('Grafana:    loadfleet tunnel --env demo grafana   then http://127.0.0.1:3000/dashboards   user admin, password in /home/u/.loadfleet/demo/grafana-admin-password');
    const controller = lines.find((l) => l.startsWith('Controller:'))!;
    expect(controller).toContain('loadfleet tunnel --env demo controller');
    expect(lines.filter((l) => !l.startsWith('Prometheus:')).join('\n')).not.toContain('54.0.0.');
  });
});
