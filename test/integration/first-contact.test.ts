/**
 * First contact on an AWS env is the same step for tune, install, doctor: the console (moto's real
 * GetConsoleOutput) is asked for each host's keys before any SSH connection, and a host whose console
 * has none is named in a note (trust on first use is never silent). The hosts' addresses are loopback
 * ports nothing listens on, so the SSH step itself then fails (exit 1).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { loadfleet } from '../harness/cli';
import { useMotoEnv } from '../harness/moto-env';
import { ec2 } from '../harness/ec2-count';
import { al2023 } from '../harness/ec2-make';

const ctx = useMotoEnv();

async function awsEnv(name: string): Promise<{ config: string; ids: string[] }> {
  const client = ec2(ctx.moto.env);
  const r = await client.send(new RunInstancesCommand({ ImageId: await al2023(client), MinCount: 2, MaxCount: 2, InstanceType: 't3.micro' }));
  const ids = r.Instances!.map((i) => i.InstanceId!);
  const dir = path.join(ctx.ws.home, name);
  fs.mkdirSync(dir, { recursive: true });
  const config = ctx.ws.writeConfig(`${name}.yaml`, { name, agents: { count: 1 }, targets: [], monitoring: { enabled: false } });
  fs.writeFileSync(path.join(dir, 'env.json'), JSON.stringify({ name, target: 'aws', configPath: config, region: 'us-east-1', engine: 'locust', ttlHours: 4, expiresAt: '2099-01-01T00:00:00.000Z', status: 'up', updatedAt: '2026-11-25T00:00:00.000Z' }));
  fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify({
    env: name, target: 'aws', engine: 'locust', expiresAt: '2099-01-01T00:00:00.000Z', sshUser: 'ec2-user',
    hosts: [
      { role: 'controller', group: 'controller', name: 'controller', id: ids[0], publicIp: '127.0.0.61', privateIp: '10.9.0.2' },
      { role: 'agent', group: 'agent', name: 'agent-1', id: ids[1], publicIp: '127.0.0.62', privateIp: '10.9.0.3' },
    ],
    master: { address: '10.9.0.2', port: 5557 },
  }));
  return { config, ids };
}

/** An env with a target and a monitoring host too: install (node_exporter) and doctor (Prometheus) reach them. */
async function fullEnv(name: string): Promise<{ config: string; ids: string[] }> {
  const client = ec2(ctx.moto.env);
  const r = await client.send(new RunInstancesCommand({ ImageId: await al2023(client), MinCount: 4, MaxCount: 4, InstanceType: 't3.micro' }));
  const ids = r.Instances!.map((i) => i.InstanceId!);
  const dir = path.join(ctx.ws.home, name);
  fs.mkdirSync(dir, { recursive: true });
  const config = ctx.ws.writeConfig(`${name}.yaml`, { name, agents: { count: 1 }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: true } });
  fs.writeFileSync(path.join(dir, 'env.json'), JSON.stringify({ name, target: 'aws', configPath: config, region: 'us-east-1', engine: 'locust', ttlHours: 4, expiresAt: '2099-01-01T00:00:00.000Z', status: 'up', updatedAt: '2026-11-25T00:00:00.000Z' }));
  fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify({
    env: name, target: 'aws', engine: 'locust', expiresAt: '2099-01-01T00:00:00.000Z', sshUser: 'ec2-user',
    hosts: [
      { role: 'controller', group: 'controller', name: 'controller', id: ids[0], publicIp: '127.0.0.71', privateIp: '10.9.0.2' },
      { role: 'agent', group: 'agent', name: 'agent-1', id: ids[1], publicIp: '127.0.0.72', privateIp: '10.9.0.3' },
      { role: 'target', group: 'app', name: 'app-1', id: ids[2], publicIp: '127.0.0.73', privateIp: '10.9.0.4' },
      { role: 'monitoring', group: 'monitoring', name: 'monitoring', id: ids[3], publicIp: '127.0.0.74', privateIp: '10.9.0.5' },
    ],
    master: { address: '10.9.0.2', port: 5557 },
  }));
  return { config, ids };
}

describe('console host keys at first contact for target and monitoring hosts too', () => {
  it('install asks the console for every host it reaches (node_exporter on targets, Prometheus on monitoring) and names each left to trust on first use', async () => {
    const { config, ids } = await fullEnv('fcfull');
    const r = await loadfleet(['install', '-c', config, '--json'], ctx.env, { timeoutMs: 180_000 });
    expect(r.exitCode, r.stderr).toBe(1);
    const notes = r.stderr.split('\n').filter((l) => l.includes('host key not pinned from the console'));
    for (const [i, name] of ['controller', 'agent-1', 'app-1', 'monitoring'].entries()) expect(notes.join('\n')).toContain(`${name} (${ids[i]}): host key not pinned from the console`);
  });

  it('doctor asks the console for the monitoring host whose Prometheus it reads', async () => {
    const { config, ids } = await fullEnv('fcdoc');
    const r = await loadfleet(['doctor', '-c', config, '--json'], ctx.env, { timeoutMs: 180_000 });
    expect(r.exitCode, r.stderr).toBe(1);
    const notes = r.stderr.split('\n').filter((l) => l.includes('host key not pinned from the console'));
    expect(notes.join('\n')).toContain(`monitoring (${ids[3]}): host key not pinned from the console`);
  });
});

describe('console host keys at first contact, for every command that connects', () => {
  for (const verb of ['install', 'doctor', 'tune'] as const) {
    it(`${verb} asks the console before connecting and names each host left to trust on first use`, async () => {
      const { config, ids } = await awsEnv(`fc${verb}`);
      const r = await loadfleet([verb, '-c', config, '--json'], ctx.env, { timeoutMs: 120_000 });
      expect(r.exitCode, r.stderr).toBe(1); // nothing listens on the loopback addresses
      const notes = (verb === 'tune' ? r.stdout + r.stderr : r.stderr).split('\n').filter((l) => l.includes('host key not pinned from the console'));
      expect(notes.join('\n')).toContain(`controller (${ids[0]}): host key not pinned from the console (the console output has no SSH HOST KEY KEYS block`);
      expect(notes.join('\n')).toContain(`agent-1 (${ids[1]})`);
    });
  }
});
