import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FORMATS, hostsFromTags, internalHostname, inventoryFrom, render, renderAnsibleIni, renderSshConfig, type Inventory } from '../../scripts/core/inventory';
import { ansibleIniHostValue, ansibleIniVarValue, refuseControlChars, shWord, sshConfigValue } from '../../scripts/core/safe-text';
import { UsageError } from '../../scripts/core/errors';

const GOLDEN = path.join(import.meta.dirname, 'golden');
const EXT: Record<string, string> = { ansible: 'ini', 'ansible-yaml': 'yaml', ssh: 'ssh_config', file_sd: 'json', hosts: 'hosts', json: 'json' };

export const INV: Inventory = {
  env: 'demo', target: 'aws', region: 'us-east-1', engine: 'ngrinder', sshUser: 'ec2-user',
  privateKeyPath: '/home/me/.ssh/id_ed25519', knownHostsFile: '/work/.loadfleet/demo/known_hosts',
  hosts: [
    { role: 'controller', group: 'controller', name: 'controller', id: 'i-0c', publicIp: '54.0.0.10', privateIp: '10.42.0.10' },
    { role: 'agent', group: 'agent', name: 'agent-1', id: 'i-0a1', publicIp: '54.0.0.11', privateIp: '10.42.0.11' },
    { role: 'agent', group: 'agent', name: 'agent-2', id: 'i-0a2', publicIp: '54.0.0.12', privateIp: '10.42.0.12' },
    { role: 'target', group: 'app', name: 'app-1', id: 'i-0t1', publicIp: '54.0.0.13', privateIp: '10.42.0.13' },
    { role: 'monitoring', group: 'monitoring', name: 'monitoring', id: 'i-0m', publicIp: '54.0.0.14', privateIp: '10.42.0.14' },
  ],
  master: { address: '10.42.0.10', port: 16001 },
};

describe('inventory renderers', () => {
  it.each(FORMATS)('renders %s as its golden file', (format) => {
    const file = path.join(GOLDEN, `inventory.${format}.${EXT[format]}`);
    const text = render(INV, format);
    if (process.env.UPDATE_GOLDEN) fs.writeFileSync(file, text);
    expect(text).toBe(fs.readFileSync(file, 'utf8'));
  });

  it('gives nGrinder roles the master under ngrinder_master_addr, and every engine master_addr/master_port', () => {
    const ini = render(INV, 'ansible');
    expect(ini).toMatch(/^ngrinder_master_addr=10\.42\.0\.10$/m);
    expect(ini).toMatch(/^master_port=16001$/m);
    expect(render({ ...INV, engine: 'k6', master: null }, 'ansible')).not.toMatch(/master/);
  });

  it('keeps YAML and JSON parseable and equivalent to the model', () => {
    const y = parse(render(INV, 'ansible-yaml'));
    expect(Object.keys(y.all.children.fleet_demo.children.agents.hosts)).toEqual(['demo-agent-1', 'demo-agent-2']);
    expect(JSON.parse(render(INV, 'json'))).toEqual({ ...INV, egressIps: { kind: 'public', ips: ['54.0.0.11', '54.0.0.12'] } });
    const sd = JSON.parse(render(INV, 'file_sd'));
    expect(sd).toHaveLength(5);
    expect(sd[1]).toEqual({ targets: ['10.42.0.11:9100'], labels: { loadfleet_env: 'demo', role: 'agent', group: 'agent', host: 'agent-1', job: 'node' } });
  });

  it('names EC2 internal hosts by region', () => {
    expect(internalHostname({ target: 'aws', region: 'us-east-1' }, INV.hosts[0]!)).toBe('ip-10-42-0-10.ec2.internal');
    expect(internalHostname({ target: 'aws', region: 'eu-west-1' }, INV.hosts[0]!)).toBe('ip-10-42-0-10.eu-west-1.compute.internal');
  });

  it('rebuilds hosts from EC2 tags in output order, ignoring untagged roles', () => {
    const hosts = hostsFromTags('demo', [
      { id: 'i-3', privateIp: '10.0.0.3', tags: { Name: 'demo-agent-10', 'loadfleet:role': 'agent' } },
      { id: 'i-2', privateIp: '10.0.0.2', tags: { Name: 'demo-agent-2', 'loadfleet:role': 'agent' } },
      { id: 'i-9', privateIp: '10.0.0.9', tags: { Name: 'demo-monitoring', 'loadfleet:role': 'monitoring' } },
      { id: 'i-1', privateIp: '10.0.0.1', publicIp: '54.1.1.1', tags: { Name: 'demo-controller', 'loadfleet:role': 'controller' } },
      { id: 'i-5', privateIp: '10.0.0.5', tags: { Name: 'demo-app-1', 'loadfleet:role': 'target' } },
      { id: 'i-x', privateIp: '10.0.0.8', tags: { Name: 'demo-vpc', 'loadfleet:role': 'network' } },
    ]);
    expect(hosts.map((h) => `${h.role}:${h.group}:${h.name}`)).toEqual(['controller:controller:controller', 'agent:agent:agent-2', 'agent:agent:agent-10', 'target:app:app-1', 'monitoring:monitoring:monitoring']);
  });

  it('renders 1,000 hosts in every format', () => {
    const many: Inventory = { ...INV, hosts: Array.from({ length: 1000 }, (_, i) => ({ ...INV.hosts[1]!, name: `agent-${i + 1}`, privateIp: `10.42.${i >> 8}.${i & 255}` })) };
    for (const f of FORMATS) expect(render(many, f)).toContain('agent-1000');
  });
});

describe('paths that reach ssh_config and the Ansible INI', () => {
  const odd = { ...INV, privateKeyPath: `/home/me/my keys/it's "k" 100%`, knownHostsFile: '/work/lf home/demo/known_hosts' };

  it('fails when the key path or the env folder carries a newline or another control character, naming the field', () => {
    const outputs = { env: INV.env, target: INV.target, engine: INV.engine, expiresAt: '', sshUser: INV.sshUser, hosts: [...INV.hosts], master: INV.master };
    expect(() => inventoryFrom(outputs, { region: 'us-east-1', privateKeyPath: '/k\n  ProxyCommand touch /tmp/pwned', knownHostsFile: '/kh' })).toThrow(
      /^keyPair\.privateKeyPath \("\/k\\n  ProxyCommand touch \/tmp\/pwned"\) contains a control character \(U\+000A at position 2\)/,
    );
    expect(() => inventoryFrom(outputs, { region: 'us-east-1', privateKeyPath: '/k', knownHostsFile: '/a\tb/known_hosts' })).toThrow(/^--home .* contains a control character \(U\+0009/);
    expect(() => refuseControlChars('--home', '/a\u001b[31m')).toThrow(UsageError);
    expect(refuseControlChars('--home', '/a b/"c"')).toBe('/a b/"c"');
  });

  it('quotes a path with spaces, quotes and % in ssh_config (OpenSSH argv rules, %% for tokens)', () => {
    const text = renderSshConfig(odd);
    expect(text).toContain('  IdentityFile "/home/me/my keys/it\'s \\"k\\" 100%%"\n');
    expect(text).toContain('  UserKnownHostsFile "/work/lf home/demo/known_hosts"\n');
    expect(text.split('\n').filter((l) => l.startsWith('Host '))).toHaveLength(INV.hosts.length);
    expect(renderSshConfig(INV)).toContain('  IdentityFile /home/me/.ssh/id_ed25519\n'); // plain paths stay plain
  });

  it('writes INI vars as Python string literals and ssh args shell-quoted inside them', () => {
    const vars = renderAnsibleIni(odd).split('\n');
    expect(vars).toContain(`ansible_ssh_private_key_file='/home/me/my keys/it\\'s "k" 100%'`);
    expect(vars).toContain(`ansible_ssh_common_args='-o \\'UserKnownHostsFile="/work/lf home/demo/known_hosts"\\' -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'`);
    expect(ansibleIniVarValue('12')).toBe("'12'"); // not turned into a number by literal_eval
    expect(ansibleIniVarValue('True')).toBe("'True'");
    expect(ansibleIniHostValue('10.42.0.11')).toBe('10.42.0.11');
    expect(ansibleIniHostValue("a b'c")).toBe(`'a b'\\''c'`);
    expect(sshConfigValue('/plain/path')).toBe('/plain/path');
    expect(shWord('-o x')).toBe("'-o x'");
  });
});
