/**
 * Paths with spaces, quotes and % reach ssh_config and the Ansible inventory quoted so that the real parsers
 * (ssh -G, ansible-inventory) read back exactly the path; control characters are refused with exit 2.
 * No network: ssh -G only resolves its configuration.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { renderAnsibleIni, renderAnsibleYaml, renderSshConfig, type Inventory } from '../../scripts/core/inventory';
import { planTunnel } from '../../scripts/monitoring/tunnel';
import type { FleetOutputs } from '../../scripts/core/env-record';
import { loadfleet } from '../harness/cli';
import { requireTool } from '../harness/tools';
import { workspace } from '../harness/workspace';

const ws = workspace('lf-quote-');
afterAll(() => ws.remove());

const KEY = `/home/me/my keys/it's "k" 100%/id_ed25519`;
const KNOWN = `/work/lf home/it's/known_hosts`;
const INV: Inventory = {
  env: 'demo', target: 'aws', region: 'us-east-1', engine: 'locust', sshUser: 'ec2-user', privateKeyPath: KEY, knownHostsFile: KNOWN,
  hosts: [
    { role: 'controller', group: 'controller', name: 'controller', id: 'i-0c', publicIp: '54.0.0.10', privateIp: '10.42.0.10' },
    { role: 'agent', group: 'agent', name: 'agent-1', id: 'i-0a1', publicIp: '54.0.0.11', privateIp: '10.42.0.11' },
  ],
  master: { address: '10.42.0.10', port: 5557 },
};

describe('quoted inventories read back by the real parsers', () => {
  it('ssh -G -F resolves the exact key and known_hosts paths', async () => {
    requireTool('ssh', 'apt-get install openssh-client');
    const file = path.join(ws.dir, 'ssh_config');
    fs.writeFileSync(file, renderSshConfig(INV));
    const r = await execa('ssh', ['-G', '-F', file, 'agent-1'], { reject: false, stdin: 'ignore' });
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    // -G prints IdentityFile before %-token expansion, which turns the written %% back into the path's %
    expect(lines).toContain(`identityfile ${KEY.replace('%', '%%')}`);
    expect(lines).toContain('hostname 54.0.0.11');
    expect(lines).toContain('user ec2-user');
    expect(lines.find((l) => l.startsWith('userknownhostsfile '))).toBe(`userknownhostsfile ${KNOWN}`);
    // only the env's pins: no key from the machine's /etc/ssh/ssh_known_hosts
    expect(lines.find((l) => l.startsWith('globalknownhostsfile '))).toBe('globalknownhostsfile /dev/null');
    expect(lines.some((l) => /^proxycommand /.test(l))).toBe(false);
  });

  it('ssh -G reads the tunnel\'s known_hosts and key paths back exactly, and no global known_hosts', async () => {
    requireTool('ssh', 'apt-get install openssh-client');
    const known = `${ws.dir}/lf home 100%/demo/known_hosts`;
    const plan = planTunnel({ env: 'demo', target: 'aws', engine: 'locust', expiresAt: '2026-11-25T18:00:00Z', sshUser: 'ec2-user', hosts: INV.hosts.map((h) => ({ ...h })), master: INV.master } as FleetOutputs,
      { target: 'controller', monitoringEnabled: false, privateKeyPath: KEY, knownHostsFile: known });
    expect(plan.argv[0]).toBe('ssh');
    const g = await execa('ssh', ['-G', ...plan.argv.slice(1).filter((a) => a !== '-N')], { reject: false, stdin: 'ignore' });
    expect(g.exitCode, g.stderr).toBe(0);
    const lines = g.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('userknownhostsfile '))).toBe(`userknownhostsfile ${known}`);
    expect(lines.find((l) => l.startsWith('globalknownhostsfile '))).toBe('globalknownhostsfile /dev/null');
    expect(lines).toContain(`identityfile ${KEY.replace('%', '%%')}`);
  });

  it('ansible-inventory reads the same key path and ssh args from the INI and the YAML, and ssh parses those args', async () => {
    requireTool('ansible-inventory', 'apt-get install ansible');
    for (const [name, text] of [['inv.ini', renderAnsibleIni(INV)], ['inv.yml', renderAnsibleYaml(INV)]] as const) {
      const file = path.join(ws.dir, name);
      fs.writeFileSync(file, text);
      const r = await execa('ansible-inventory', ['-i', file, '--host', 'demo-agent-1'], { reject: false });
      expect(r.exitCode).toBe(0);
      const vars = JSON.parse(r.stdout);
      expect(vars.ansible_ssh_private_key_file).toBe(KEY);
      expect(vars.ansible_host).toBe('54.0.0.11');
      // ansible splits the common args with shlex and gives each word to ssh: ssh must read the path back
      const words = (await execa('python3', ['-c', 'import shlex,sys,json; print(json.dumps(shlex.split(sys.argv[1])))', vars.ansible_ssh_common_args])).stdout;
      const g = await execa('ssh', ['-G', ...(JSON.parse(words) as string[]), 'agent-1'], { reject: false, stdin: 'ignore' });
      expect(g.exitCode).toBe(0);
      expect(g.stdout.split('\n').find((l) => l.startsWith('userknownhostsfile '))).toBe(`userknownhostsfile ${KNOWN}`);
      expect(g.stdout.split('\n')).toContain('stricthostkeychecking true');
      expect(g.stdout.split('\n')).toContain('globalknownhostsfile /dev/null');
    }
  });
});

describe('control characters in paths', () => {
  it('fails with exit 2 naming keyPair.privateKeyPath when the key path has a newline, before anything else', async () => {
    const cfg = ws.writeConfig('nl.yaml', { name: 'quote', keyPair: { publicKeyPath: ws.publicKeyPath, privateKeyPath: `${ws.privateKeyPath}\n  ProxyCommand touch ${ws.dir}/pwned` } });
    const r = await loadfleet(['inventory', '-c', cfg, '-f', 'ssh'], { LOADFLEET_HOME: ws.home });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/keyPair\.privateKeyPath \(".*\\n  ProxyCommand touch .*"\) contains a control character/);
    expect(r.stdout).toBe('');
    expect(fs.existsSync(path.join(ws.dir, 'pwned'))).toBe(false);
  });

  it('fails with exit 2 naming --home when it has a control character', async () => {
    const cfg = ws.writeConfig('ok.yaml', { name: 'quote' });
    const r = await loadfleet(['inventory', '-c', cfg, '--home', `${ws.home}\nx`], {});
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--home \(".*\\nx"\) contains a control character \(U\+000A/);
  });
});
