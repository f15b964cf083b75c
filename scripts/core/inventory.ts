/**
 * One inventory model, many renderers: Ansible INI and YAML, ssh_config, Prometheus file_sd, /etc/hosts,
 * JSON. Pure: every renderer is a function of the model.
 */
import { dump } from 'js-yaml';
import type { Role } from '../../stacks/config';
import { MONITORING_PORTS, type EngineName } from '../../stacks/engines';
import type { FleetOutputs, Host } from './env-record';
import { ansibleIniHostValue, ansibleIniVarValue, refuseControlChars, shWord, sshConfigValue } from './safe-text';
import { egressIps, jumpFor } from './door';

import { FORMATS, type InventoryFormat } from './inventory-formats';
export { FORMATS, type InventoryFormat };

export interface Inventory {
  readonly env: string;
  readonly target: 'aws' | 'local';
  readonly region: string;
  readonly engine: string;
  readonly sshUser: string;
  readonly privateKeyPath: string;
  readonly knownHostsFile: string;
  readonly hosts: readonly Host[];
  readonly master: { readonly address: string; readonly port: number } | null;
  readonly egress?: { readonly kind: string; readonly ips: readonly string[] };
}

/** Refuses (exit 2) a key or known_hosts path with a control character: it would inject ssh_config/INI lines. */
export function inventoryFrom(o: FleetOutputs, extra: { region: string; privateKeyPath: string; knownHostsFile: string }): Inventory {
  refuseControlChars('keyPair.privateKeyPath', extra.privateKeyPath);
  refuseControlChars('--home (the env folder holding known_hosts)', extra.knownHostsFile);
  return { env: o.env, target: o.target, engine: o.engine, sshUser: o.sshUser, hosts: o.hosts, master: o.master, ...(o.egress ? { egress: o.egress } : {}), ...extra };
}

const ROLE_GROUPS: Record<Role, string> = { controller: 'controller', agent: 'agents', target: 'targets', monitoring: 'monitoring' };
const ROLE_ORDER: readonly Role[] = ['controller', 'agent', 'target', 'monitoring'];

/** The name community roles use for the master address, per engine (nGrinder roles: ngrinder_master_addr). */
const ENGINE_MASTER_VARS: Record<EngineName, string | null> = {
  ngrinder: 'ngrinder_master_addr',
  locust: 'locust_master_host',
  jmeter: 'jmeter_client_addr',
  k6: null,
  artillery: null,
};

export function fleetGroup(env: string): string {
  return `fleet_${env.replace(/-/g, '_')}`;
}

/** What a host is called inside the fleet (EC2's internal DNS name, or the local host's own name). */
export function internalHostname(inv: Pick<Inventory, 'target' | 'region'>, h: Host): string {
  if (inv.target === 'local') return h.name;
  const ip = `ip-${h.privateIp.replace(/\./g, '-')}`;
  return inv.region === 'us-east-1' ? `${ip}.ec2.internal` : `${ip}.${inv.region}.compute.internal`;
}

function hostVars(inv: Inventory, h: Host): Record<string, string> {
  const vars: Record<string, string> = { ansible_host: h.publicIp || h.privateIp, internal_ip: h.privateIp, internal_hostname: internalHostname(inv, h), loadfleet_role: h.role, instance_id: h.id };
  const jump = jumpFor(inv.hosts, h.publicIp || h.privateIp);
  // A private host (issue 18): the fleet's args plus the door. Host vars win over the group's.
  if (jump) vars.ansible_ssh_common_args = `${commonArgs(inv)} -o ${shWord(`ProxyCommand=${proxyCommand(inv, jump)}`)}`;
  return vars;
}

/**
 * Where OpenSSH keeps the one multiplexed connection to the door: ~/.ssh/lf-%C (%C: a 40-digit hash of user,
 * host and port). Not beside known_hosts: a Unix socket path must stay under ~104 bytes, and an env folder can
 * be deep. `inventory` makes ~/.ssh (0700) when it is missing.
 */
export function controlPathValue(_inv: Pick<Inventory, 'knownHostsFile'>): string {
  return '~/.ssh/lf-%C';
}

/**
 * The jump through the controller as an OpenSSH ProxyCommand: its own pinned known_hosts (ProxyJump would not
 * pass command-line -o options on to the jump's ssh), and ControlMaster, so every private host's session rides
 * on one connection to the controller. Run by sh after ssh's %-expansion: each word shell-quoted, `%` doubled.
 */
export function proxyCommand(inv: Pick<Inventory, 'sshUser' | 'privateKeyPath' | 'knownHostsFile'>, jump: string): string {
  const opt = (o: string) => ['-o', o];
  const words = [
    'ssh',
    ...opt(`UserKnownHostsFile=${sshConfigValue(inv.knownHostsFile, { percentTokens: true })}`),
    ...opt('GlobalKnownHostsFile=/dev/null'),
    ...opt('StrictHostKeyChecking=yes'),
    ...opt('BatchMode=yes'),
    ...opt('IdentitiesOnly=yes'),
    ...opt(`IdentityFile=${sshConfigValue(inv.privateKeyPath, { percentTokens: true })}`),
    ...opt('ControlMaster=auto'),
    ...opt('ControlPersist=60s'),
    ...opt(`ControlPath=${controlPathValue(inv)}`),
    '-l', inv.sshUser,
  ];
  // Every % doubled, %C included: the outer ssh expands this line, the inner one then sees its own tokens.
  return `${words.map((w) => shWord(w).replace(/%/g, '%%')).join(' ')} -W %h:%p ${jump}`;
}

function commonArgs(inv: Inventory): string {
  return `-o ${shWord(`UserKnownHostsFile=${sshConfigValue(inv.knownHostsFile, { percentTokens: true })}`)} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`;
}

function fleetVars(inv: Inventory): Record<string, string | number> {
  const vars: Record<string, string | number> = {
    ansible_user: inv.sshUser,
    ansible_ssh_private_key_file: inv.privateKeyPath,
    // Ansible shlex-splits this and hands each word to ssh, which parses `-o` like a config line.
    ansible_ssh_common_args: commonArgs(inv),
    loadfleet_env: inv.env,
    loadfleet_engine: inv.engine,
  };
  if (inv.master) {
    vars.master_addr = inv.master.address;
    vars.master_port = inv.master.port;
    const named = ENGINE_MASTER_VARS[inv.engine as EngineName];
    if (named) vars[named] = inv.master.address;
  }
  return vars;
}

/** Groups in a stable order: role groups, then one group per target group (target_<name>). */
function groups(inv: Inventory): [string, Host[]][] {
  const out: [string, Host[]][] = ROLE_ORDER.map((r) => [ROLE_GROUPS[r], inv.hosts.filter((h) => h.role === r)]);
  const targetGroups = [...new Set(inv.hosts.filter((h) => h.role === 'target').map((h) => h.group))];
  for (const g of targetGroups) out.push([`target_${g}`, inv.hosts.filter((h) => h.role === 'target' && h.group === g)]);
  return out;
}

/** Ansible host names carry the env ("demo-controller"): no clash with the role groups, none across envs. */
export function ansibleName(inv: Pick<Inventory, 'env'>, h: Host): string {
  return `${inv.env}-${h.name}`;
}

export function renderAnsibleIni(inv: Inventory): string {
  const lines: string[] = [`# loadfleet env ${inv.env} (${inv.target}): ansible-playbook -i <this file> …`];
  for (const [group, hosts] of groups(inv)) {
    lines.push('', `[${group}]`);
    for (const h of hosts) {
      // Host vars once, in the role group; target_<name> groups only list members.
      const vars = group.startsWith('target_') ? '' : ` ${Object.entries(hostVars(inv, h)).map(([k, v]) => `${k}=${ansibleIniHostValue(v)}`).join(' ')}`;
      lines.push(`${ansibleName(inv, h)}${vars}`);
    }
  }
  const parent = fleetGroup(inv.env);
  lines.push('', `[${parent}:children]`, ...ROLE_ORDER.map((r) => ROLE_GROUPS[r]));
  lines.push('', `[${parent}:vars]`, ...Object.entries(fleetVars(inv)).map(([k, v]) => `${k}=${ansibleIniVarValue(v)}`));
  return `${lines.join('\n')}\n`;
}

export function renderAnsibleYaml(inv: Inventory): string {
  const children: Record<string, { hosts: Record<string, Record<string, string>> }> = {};
  for (const [group, hosts] of groups(inv)) {
    children[group] = { hosts: Object.fromEntries(hosts.map((h) => [ansibleName(inv, h), group.startsWith('target_') ? {} : hostVars(inv, h)])) };
  }
  const roleChildren = Object.fromEntries(ROLE_ORDER.map((r) => [ROLE_GROUPS[r], children[ROLE_GROUPS[r]]!]));
  const extra = Object.fromEntries(Object.entries(children).filter(([g]) => g.startsWith('target_')));
  // js-yaml rather than the yaml package here: ~4.5x faster at 1,000 hosts (13 vs 60 ms).
  return dump({ all: { children: { [fleetGroup(inv.env)]: { vars: fleetVars(inv), children: roleChildren }, ...extra } } }, { noRefs: true, lineWidth: -1 });
}

export function renderSshConfig(inv: Inventory): string {
  const door = inv.hosts.find((h) => h.role === 'controller');
  const blocks = inv.hosts.map((h) =>
    [
      `Host ${h.name}`,
      // Issue 18: a private host through the controller's block (its pinned key, its one multiplexed connection).
      ...(door && jumpFor(inv.hosts, h.publicIp || h.privateIp) ? [`  ProxyJump ${door.name}`] : []),
      ...(door && h === door && inv.hosts.some((x) => jumpFor(inv.hosts, x.publicIp || x.privateIp)) ? ['  ControlMaster auto', '  ControlPersist 60s', `  ControlPath ${controlPathValue(inv)}`] : []),
      `  HostName ${h.publicIp || h.privateIp}`,
      `  User ${inv.sshUser}`,
      `  IdentityFile ${sshConfigValue(inv.privateKeyPath, { percentTokens: true })}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${sshConfigValue(inv.knownHostsFile, { percentTokens: true })}`,
      // Only the env's pins: a key for this address in the machine's /etc/ssh/ssh_known_hosts must not pass.
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  ServerAliveInterval 30',
    ].join('\n'),
  );
  return `# loadfleet env ${inv.env}: ssh -F <this file> ${inv.hosts[0]?.name ?? '<host>'}\n\n${blocks.join('\n\n')}\n`;
}

/**
 * The monitoring host's address as a host sees it (k6's remote write, issue 18 review item 7): its public one
 * for a host in another region (private addresses do not route between regions, and the VPCs reuse the CIDR),
 * else its private one.
 */
export function monitoringAddressFor(h: { readonly region?: string }, mon: { readonly region?: string; readonly publicIp: string; readonly privateIp: string }): string {
  return mon.region && h.region && h.region !== mon.region && mon.publicIp ? mon.publicIp : mon.privateIp;
}

export function renderFileSd(inv: Inventory): string {
  // A host in another region than the monitoring host is scraped on its public address (issue 18: the
  // private ones do not route between regions; its security group allows monitoring's public address only).
  const home = inv.hosts.find((h) => h.role === 'monitoring')?.region;
  const address = (h: Inventory['hosts'][number]) => (home && h.region && h.region !== home && h.publicIp ? h.publicIp : h.privateIp);
  const entries = inv.hosts.map((h) => ({
    targets: [`${address(h)}:${MONITORING_PORTS.nodeExporter}`],
    labels: { loadfleet_env: inv.env, role: h.role, group: h.group, host: h.name, job: 'node' },
  }));
  return `${JSON.stringify(entries, null, 2)}\n`;
}

export function renderHosts(inv: Inventory): string {
  return `# loadfleet env ${inv.env}\n${inv.hosts.map((h) => `${h.privateIp} ${h.name} ${inv.env}-${h.name}`).join('\n')}\n`;
}

export function renderJson(inv: Inventory): string {
  // Issue 18: "egress IPs to allowlist" (the NAT's Elastic IPs, else the agents' public IPs).
  return `${JSON.stringify({ ...inv, egressIps: egressIps(inv) }, null, 2)}\n`;
}

export function render(inv: Inventory, format: InventoryFormat): string {
  switch (format) {
    case 'ansible':
      return renderAnsibleIni(inv);
    case 'ansible-yaml':
      return renderAnsibleYaml(inv);
    case 'ssh':
      return renderSshConfig(inv);
    case 'file_sd':
      return renderFileSd(inv);
    case 'hosts':
      return renderHosts(inv);
    case 'json':
      return renderJson(inv);
  }
}

/** Hosts from EC2 tags (state lost): Name "<env>-<name>", role from loadfleet:role. Sorted like outputs. */
export function hostsFromTags(
  env: string,
  instances: readonly { id: string; publicIp?: string; privateIp?: string; tags: Record<string, string> }[],
): Host[] {
  const hosts = instances.map((i): Host => {
    const name = (i.tags.Name ?? i.id).replace(new RegExp(`^${env}-`), '');
    const role = i.tags['loadfleet:role'] as Role;
    return { role, group: role === 'agent' ? 'agent' : name.replace(/-\d+$/, ''), name, id: i.id, publicIp: i.publicIp ?? '', privateIp: i.privateIp ?? '' };
  });
  const order = (h: Host) => ROLE_ORDER.indexOf(h.role);
  const num = (h: Host) => Number(/-(\d+)$/.exec(h.name)?.[1] ?? 0);
  return hosts.filter((h) => ROLE_ORDER.includes(h.role)).sort((a, b) => order(a) - order(b) || a.group.localeCompare(b.group) || num(a) - num(b));
}
