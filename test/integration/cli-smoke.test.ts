/**
 * The CLI as a user starts it, on whichever Node runs this file (scripts/node-versions.sh runs it on the
 * pinned 22 and 24 as well): --version, --help, synth, inventory from an env folder and from EC2 tags on
 * moto; what each light command loads; and the AWS SDK's Node-version warning exactly where it belongs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { BIN, loadfleet } from '../harness/cli';
import { useMotoEnv } from '../harness/moto-env';
import { al2023 } from '../harness/ec2-make';

const ctx = useMotoEnv();
const HEAVY = ['@aws-sdk', 'cdktf', '@cdktf', 'ssh2', 'node-ssh', 'listr2'];
const major = Number(process.versions.node.split('.')[0]);

/** Packages (under node_modules) that one CLI run loaded. */
async function packagesLoaded(args: string[], env: Record<string, string>): Promise<{ exitCode: number; packages: Set<string>; stderr: string }> {
  const trace = path.join(ctx.ws.dir, `trace-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(trace, '');
  const r = await execa(process.execPath, ['--import', path.resolve('test/harness/load-trace.mjs'), BIN, ...args], {
    env: { ...process.env, ...env, LOADFLEET_LOAD_TRACE: trace }, reject: false, stdin: 'ignore',
  });
  const packages = new Set<string>();
  for (const line of fs.readFileSync(trace, 'utf8').split('\n')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(line);
    if (m) packages.add(m[1]!);
  }
  return { exitCode: r.exitCode ?? -1, packages, stderr: String(r.stderr) };
}

const heavyIn = (packages: Set<string>) => [...packages].filter((p) => HEAVY.some((h) => p === h || p.startsWith(`${h}/`)));

function writeEnvFolder(home: string, name: string): void {
  // An env folder as `up --target local` leaves it: record and outputs (the light commands only read these).
  const dir = path.join(home, name);
  fs.mkdirSync(dir, { recursive: true });
  const config = ctx.ws.writeConfig(`${name}.yaml`, { name });
  fs.writeFileSync(path.join(dir, 'env.json'), JSON.stringify({ name, target: 'local', configPath: config, region: 'us-east-1', engine: 'locust', ttlHours: 4, expiresAt: '2099-01-01T00:00:00.000Z', status: 'up', updatedAt: '2026-11-25T00:00:00.000Z' }));
  fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify({
    env: name, target: 'local', engine: 'locust', expiresAt: '2099-01-01T00:00:00.000Z', sshUser: 'root',
    hosts: [{ role: 'controller', group: 'controller', name: 'controller', id: 'h1', publicIp: '', privateIp: '10.9.0.2' }, { role: 'agent', group: 'agent', name: 'agent-1', id: 'h2', publicIp: '', privateIp: '10.9.0.3' }],
    master: { address: '10.9.0.2', port: 5557 },
  }));
}

describe(`the CLI on Node ${process.versions.node}`, () => {
  it('prints its version and help, loading none of the AWS SDK, cdktf, ssh2 or listr2', async () => {
    const v = await packagesLoaded(['--version'], ctx.env);
    expect(v.exitCode).toBe(0);
    expect(v.packages.has('commander')).toBe(true); // the trace sees what is loaded
    expect(heavyIn(v.packages)).toEqual([]);
    expect(v.packages.has('zod')).toBe(false);
    const help = await loadfleet(['--help'], ctx.env);
    expect(help.exitCode).toBe(0);
    for (const verb of ['synth', 'up', 'down', 'status', 'inventory', 'tune', 'sweep']) expect(help.stdout).toContain(verb);
  });

  it('runs as `loadfleet` from any folder: scripts/setup.sh put it on PATH (issue 22)', async () => {
    const r = await execa('loadfleet', ['--version'], { cwd: '/', reject: false, stdin: 'ignore' }).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
    expect(r.exitCode, `${String(r.stderr)} (run bash scripts/setup.sh: it links /usr/local/bin/loadfleet to the clone)`).toBe(0);
    const version = (JSON.parse(fs.readFileSync(path.resolve('package.json'), 'utf8')) as { version: string }).version;
    expect(String(r.stdout).trim()).toContain(version);
  });

  it('renders an inventory and a status from the env folder without the AWS SDK, cdktf, ssh2 or listr2', async () => {
    writeEnvFolder(ctx.ws.home, 'smoke');
    const inv = await packagesLoaded(['inventory', '--env', 'smoke', '-f', 'hosts'], ctx.env);
    expect(inv.stderr + inv.exitCode).toMatch(/0$/);
    expect(inv.packages.has('js-yaml')).toBe(true);
    expect(heavyIn(inv.packages)).toEqual([]);
    const r = await loadfleet(['inventory', '--env', 'smoke', '-f', 'json'], ctx.env);
    expect(r.exitCode).toBe(0);
    expect((JSON.parse(r.stdout) as { hosts: { name: string }[] }).hosts.map((h) => h.name)).toEqual(['controller', 'agent-1']);
    const st = await packagesLoaded(['status', '--env', 'smoke'], ctx.env);
    expect(st.exitCode).toBe(0);
    expect(heavyIn(st.packages)).toEqual([]);
  });

  it('fails with exit 2 on run --host carrying credentials, never echoing them, before any host is reached', async () => {
    writeEnvFolder(ctx.ws.home, 'smokecred');
    const script = path.join(ctx.ws.dir, 'creds.js');
    fs.writeFileSync(script, 'export default function () {}\n');
    const r = await loadfleet(['run', '--env', 'smokecred', '--script', script, '--host', 'http://admin:hunter2@10.0.0.5:8080'], ctx.env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--host (http://***@10.0.0.5:8080) carries credentials');
    expect(r.stderr + r.stdout).not.toContain('hunter2');
  });

  it('synthesizes a 100-agent fleet', async () => {
    const config = ctx.ws.writeConfig('synth.yaml', { name: 'smokesynth', agents: { count: 100 }, targets: [{ name: 'app' }] });
    const out = path.join(ctx.ws.dir, 'synth-out');
    const r = await loadfleet(['synth', '-c', config, '-o', out, '--json'], ctx.env);
    expect(r.stderr + r.exitCode).toMatch(/0$/);
    const files = fs.readdirSync(out, { recursive: true }).map(String).filter((f) => f.endsWith('cdk.tf.json'));
    expect(files.length).toBe(1);
    const tf = JSON.parse(fs.readFileSync(path.join(out, files[0]!), 'utf8')) as { resource: { aws_instance: Record<string, { count?: number }> } };
    expect(Object.keys(tf.resource.aws_instance).length).toBeGreaterThan(0);
  });

  it(`builds an inventory from EC2 tags on moto; the SDK's Node-version warning ${major >= 22 ? 'does not appear (supported Node)' : 'appears (not hidden)'}`, async () => {
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: ctx.moto.env.AWS_ENDPOINT_URL, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const tags = [{ Key: 'loadfleet:env', Value: 'smoketags' }, { Key: 'loadfleet:role', Value: 'agent' }, { Key: 'Name', Value: 'smoketags-agent-1' }];
    await ec2.send(new RunInstancesCommand({ ImageId: await al2023(ec2), MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', TagSpecifications: [{ ResourceType: 'instance', Tags: tags }] }));
    const config = ctx.ws.writeConfig('tags.yaml', { name: 'smoketags' });
    const r = await loadfleet(['inventory', '-c', config, '--from-tags', '-f', 'json'], ctx.env);
    expect(r.stderr + r.exitCode).toMatch(/0$/);
    expect((JSON.parse(r.stdout) as { hosts: { name: string }[] }).hosts.map((h) => h.name)).toEqual(['agent-1']);
    if (major >= 22) expect(r.stderr).not.toContain('NodeVersionSupportWarning');
    else expect(r.stderr).toContain('NodeVersionSupportWarning');
  });

  it('runs dist/ while its stamp matches the sources; after an edit it rebuilds, or says to run npm run build when esbuild is missing', async () => {
    // GIVEN a copy of the launcher with one source and a dist/ whose cli.js only reports that it ran
    const root = path.join(ctx.ws.dir, `launcher-${Date.now()}`);
    fs.mkdirSync(path.join(root, 'scripts', 'build'), { recursive: true });
    fs.mkdirSync(path.join(root, 'dist'));
    fs.copyFileSync(BIN, path.join(root, 'scripts', 'loadfleet.mjs'));
    fs.copyFileSync(path.resolve('scripts/build/sources-stamp.mjs'), path.join(root, 'scripts', 'build', 'sources-stamp.mjs'));
    fs.writeFileSync(path.join(root, 'scripts', 'cli.ts'), 'export {};\n');
    fs.writeFileSync(path.join(root, 'dist', 'cli.js'), 'export async function main() { process.stdout.write("dist ran\\n"); return 0; }\n');
    const { sourcesStamp, STAMP_FILE } = (await import(path.resolve('scripts/build/sources-stamp.mjs'))) as { sourcesStamp: (r: string) => { stamp: string }; STAMP_FILE: string };
    fs.writeFileSync(path.join(root, 'dist', STAMP_FILE), `${sourcesStamp(root).stamp}\n`);
    const launch = () => execa(process.execPath, [path.join(root, 'scripts', 'loadfleet.mjs'), '--version'], { reject: false, stdin: 'ignore' });
    // WHEN the sources are unchanged THEN dist/ runs as built
    const fresh = await launch();
    expect(fresh.exitCode).toBe(0);
    expect(fresh.stdout).toBe('dist ran');
    expect(fresh.stderr).toBe('');
    // WHEN a source is edited after the build (and esbuild cannot be found from this copy)
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(root, 'scripts', 'cli.ts'), later, later);
    const stale = await launch();
    // THEN the stale build does not run; the message says what to run
    expect(stale.exitCode).toBe(70);
    expect(stale.stdout).toBe('');
    expect(stale.stderr).toContain('the sources changed since the last build (dist/) and esbuild is not installed: run "npm install && npm run build"');
  });
});
