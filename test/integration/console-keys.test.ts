/**
 * The console-key adapter against moto_server's real GetConsoleOutput: moto answers with a fixed kernel log
 * (no cloud-init key block), so this proves the call, the base64 decoding and the fallback to trust on
 * first use with its note; the parsing of a real cloud-init block is unit-tested with a fixture.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetConsoleOutputCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { consoleHostKeys, pinFromConsole } from '../../scripts/adapters/console-keys';
import { KnownHosts } from '../../scripts/adapters/ssh';
import { ec2 } from '../harness/ec2-count';
import { al2023 } from '../harness/ec2-make';
import { startMoto, type Moto } from '../harness/moto';
import { workspace, type Workspace } from '../harness/workspace';

let moto: Moto;
let ws: Workspace;
let instanceId: string;

beforeAll(async () => {
  moto = await startMoto();
  ws = workspace('lf-console-');
  const client = ec2(moto.env);
  const r = await client.send(new RunInstancesCommand({ ImageId: await al2023(client), MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }));
  instanceId = r.Instances![0]!.InstanceId!;
});

afterAll(async () => {
  await moto?.stop();
  ws?.remove();
});

describe('host keys from GetConsoleOutput (moto)', () => {
  it('reads and decodes the console of a running instance; without a key block it says why', async () => {
    const client = ec2(moto.env);
    const raw = Buffer.from((await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId }))).Output!, 'base64').toString('utf8');
    expect(raw).toMatch(/^Linux version/); // what moto serves: a kernel log, no cloud-init
    expect(await consoleHostKeys(client, instanceId)).toEqual({ unavailable: 'the console output has no SSH HOST KEY KEYS block (cloud-init prints it at first boot)' });
  });

  it('reports the service error for an instance EC2 does not know', async () => {
    const r = await consoleHostKeys(ec2(moto.env), 'i-0123456789abcdef0');
    expect(r).toMatchObject({ unavailable: expect.stringMatching(/^GetConsoleOutput failed: InvalidInstanceID\.NotFound: .*i-0123456789abcdef0/) });
  });

  it('pins nothing it cannot prove, leaves pinned hosts alone, and notes each host left to trust on first use', async () => {
    const file = path.join(ws.dir, 'known_hosts');
    const before = '54.0.0.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW\n';
    fs.writeFileSync(file, before);
    const r = await pinFromConsole(ec2(moto.env), new KnownHosts(file), [
      { name: 'controller', address: '54.0.0.10', id: 'i-0aaaaaaaaaaaaaaaa' }, // already pinned: not even asked
      { name: 'agent-1', address: '54.0.0.11', id: instanceId },
    ]);
    expect(r.pinned).toBe(0);
    expect(r.notes).toEqual([`agent-1 (${instanceId}): host key not pinned from the console (the console output has no SSH HOST KEY KEYS block (cloud-init prints it at first boot)): trusting the key it presents on first contact and recording it in known_hosts`]);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('pins every key of a console that has them, so the first connection is checked, not trusted', async () => {
    // moto cannot serve a cloud-init console: this one port answers with a real Amazon Linux 2023 console text.
    const consoleText = fs.readFileSync(path.join(import.meta.dirname, '../unit/fixtures/console-al2023.txt'));
    const port = { send: async () => ({ Output: consoleText.toString('base64') }) } as unknown as Parameters<typeof pinFromConsole>[0];
    const file = path.join(ws.dir, 'known_hosts_2');
    const known = new KnownHosts(file);
    const r = await pinFromConsole(port, known, [{ name: 'agent-1', address: '54.0.0.11', id: 'i-0a1' }]);
    expect(r).toEqual({ pinned: 1, notes: [] });
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['54.0.0.11 ecdsa-sha2-nistp256', '54.0.0.11 ssh-ed25519']);
    // both pinned keys are accepted at connect time, any other is refused as CHANGED
    const ed = lines[1]!.split(' ').slice(1).join(' ');
    expect(await new KnownHosts(file).check('54.0.0.11', ed)).toBeUndefined();
    expect(await new KnownHosts(file).check('54.0.0.11', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW')).toMatch(/host key of 54\.0\.0\.11 CHANGED/);
  });
});
