import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../scripts/adapters/config-file';
import { ConfigError } from '../../stacks/config';
import { UsageError } from '../../scripts/core/errors';
import { PUBLIC_KEY } from '../harness/fixtures';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-config-'));
  fs.writeFileSync(path.join(dir, 'k.pub'), `${PUBLIC_KEY}\n`);
  fs.writeFileSync(path.join(dir, 'k'), 'the private half (only its readability is checked here)\n', { mode: 0o600 });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  fs.writeFileSync(path.join(dir, name), text);
  return path.join(dir, name);
};

describe('loadConfig', () => {
  it('reads YAML and JSON alike, resolving the key next to the config', async () => {
    const yaml = await loadConfig(write('f.yaml', 'name: demo\naccess: { sshCidrs: [203.0.113.7/32] }\nkeyPair: { publicKeyPath: k.pub }\n'));
    const json = await loadConfig(write('f.json', JSON.stringify({ name: 'demo', access: { sshCidrs: ['203.0.113.7/32'] }, keyPair: { publicKeyPath: 'k.pub' } })));
    expect(yaml.config).toEqual(json.config);
    expect(yaml.publicKey).toBe(PUBLIC_KEY);
    expect(yaml.privateKeyPath).toBe(path.join(dir, 'k'));
  });

  it('fails when the key file is a private key', async () => {
    write('id', '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n');
    const err = await loadConfig(write('f.yaml', 'name: demo\naccess: { sshCidrs: [203.0.113.7/32] }\nkeyPair: { publicKeyPath: id }\n')).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/keyPair\.publicKeyPath \("id"\) is a PRIVATE key: point keyPair\.publicKeyPath at the matching \.pub file/);
  });

  it('fails when the key file does not exist, together with schema problems', async () => {
    const err = await loadConfig(write('f.yaml', 'name: demo\naccess: { sshCidrs: [] }\nkeyPair: { publicKeyPath: nope.pub }\n')).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['access.sshCidrs', 'keyPair.publicKeyPath']);
    expect(err.message).toMatch(/cannot be read \(ENOENT\): create a key with ssh-keygen/);
  });

  it('fails when the private key cannot be read, naming keyPair.privateKeyPath, before any host exists (issue 22)', async () => {
    // GIVEN the default (publicKeyPath without .pub) missing
    fs.rmSync(path.join(dir, 'k'));
    const unset = await loadConfig(write('f.yaml', 'name: demo\naccess: { sshCidrs: [203.0.113.7/32] }\nkeyPair: { publicKeyPath: k.pub }\n')).catch((e) => e);
    expect(unset).toBeInstanceOf(ConfigError);
    expect((unset as ConfigError).problems.map((p) => p.path)).toEqual(['keyPair.privateKeyPath']);
    expect(unset.message).toMatch(/keyPair\.privateKeyPath \(".*\/k"\) cannot be read \(ENOENT\) — unset, so it defaults to keyPair\.publicKeyPath without "\.pub"/);
    // GIVEN an explicit path that does not exist
    const given = await loadConfig(write('g.yaml', 'name: demo\naccess: { sshCidrs: [203.0.113.7/32] }\nkeyPair: { publicKeyPath: k.pub, privateKeyPath: ./gone }\n')).catch((e) => e);
    expect(given.message).toMatch(/keyPair\.privateKeyPath \("\.\/gone"\) cannot be read \(ENOENT\): point keyPair\.privateKeyPath at the private key/);
    // A command that never logs in (synth, status, down, inventory, runs, compare) does not need it.
    const synthOnly = await loadConfig(write('h.yaml', 'name: demo\naccess: { sshCidrs: [203.0.113.7/32] }\nkeyPair: { publicKeyPath: k.pub }\n'), { needPrivateKey: false });
    expect(synthOnly.config.name).toBe('demo');
  });

  it('refuses a local.engineCache that leaves /opt or /var through ..', async () => {
    const err = await loadConfig(write('f.yaml', 'name: demo\naccess: { sshCidrs: [203.0.113.7/32] }\nkeyPair: { publicKeyPath: k.pub }\nlocal: { engineCache: /opt/../etc }\n')).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/local\.engineCache.*must not contain "\.\."/);
    const ok = await loadConfig(write('g.yaml', 'name: demo\naccess: { sshCidrs: [203.0.113.7/32] }\nkeyPair: { publicKeyPath: k.pub }\nlocal: { engineCache: /opt/my..cache }\n'));
    expect(ok.config.local.engineCache).toBe('/opt/my..cache');
  });

  it('fails on malformed YAML with the parser\'s position', async () => {
    const err = await loadConfig(write('f.yaml', 'name: [demo\n')).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/is not valid YAML/);
  });

  it('fails on a missing config file with a usage error', async () => {
    const err = await loadConfig(path.join(dir, 'missing.yaml')).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/cannot read config file .*missing\.yaml: ENOENT/);
  });
});
