/**
 * OS limit tuning: which files a host of a role gets (rendered from the templates under ami/tuning, the
 * same ones the image bake uses), the script that applies them idempotently, the script that reads the
 * effective values in a new session, and the comparison with reasons. Pure.
 */
import type { FleetConfig, Role } from '../../stacks/config';
import { MONITORING_PORTS, engineOf, type Engine } from '../../stacks/engines';
import { targetPorts } from '../../stacks/topology';
import { shQuote } from './safe-text';
import { CHECKED_PUT_SH } from './sh-put';

export interface TuningTemplates {
  readonly limits: string;
  /** Profile name (common, generator, controller, target, monitoring, nr-open) → file text. */
  readonly sysctl: Readonly<Record<string, string>>;
  readonly systemdManager: string;
  readonly systemdUnit: string;
}

/** netns: a local-target host, which shares machine-wide kernel settings with its neighbours. */
export type HostKind = 'ec2' | 'netns';

export interface TuningOptions {
  readonly nofile: number;
  readonly nproc: number;
  readonly engine: Engine;
  readonly hostKind: HostKind;
  /** Ports the fleet listens on (see fleetListeningPorts): kept out of the ephemeral port range. */
  readonly reservedPorts: readonly number[];
}

/**
 * Every port a fleet host listens on, from the same table the security groups are built from (SSH, the
 * engine's UI, master and agent ports, the targets' ports, Prometheus, Grafana, node_exporter). Reserved on
 * every host with net.ipv4.ip_local_reserved_ports: with ip_local_port_range starting at 1024, an outgoing
 * connection could otherwise take 5557 or 9100 before the service that listens there starts.
 */
export function fleetListeningPorts(config: Pick<FleetConfig, 'engine' | 'targets' | 'monitoring'>): number[] {
  const engine = engineOf(config.engine);
  const ports = new Set<number>([22, ...targetPorts(config as FleetConfig)]);
  if (engine.uiPort !== null) ports.add(engine.uiPort);
  for (const r of [...engine.controllerFromAgents, ...engine.agentsFromController]) for (let p = r.from; p <= r.to; p++) ports.add(p);
  if (config.monitoring.enabled) for (const p of Object.values(MONITORING_PORTS)) ports.add(p);
  else ports.add(MONITORING_PORTS.nodeExporter);
  return [...ports].sort((a, b) => a - b);
}

/** Ports as the kernel prints ip_local_reserved_ports back: sorted, consecutive ports merged ("22,3000-3002"). */
export function portListValue(ports: readonly number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const from = sorted[i]!;
    while (i + 1 < sorted.length && sorted[i + 1] === sorted[i]! + 1) i++;
    out.push(from === sorted[i] ? String(from) : `${from}-${sorted[i]}`);
  }
  return out.join(',');
}

export interface TuningFile {
  readonly path: string;
  readonly content: string;
  readonly mode: string;
}

export interface Expectation {
  /** e.g. "nofile soft", "sysctl net.core.somaxconn" */
  readonly setting: string;
  readonly requested: string;
}

export interface TuningPlan {
  readonly role: Role;
  readonly files: readonly TuningFile[];
  /** Applied in this order with `sysctl -p FILE` (never --system): nr_open first. */
  readonly sysctlFiles: readonly string[];
  readonly sysctl: Readonly<Record<string, string>>;
  readonly expected: readonly Expectation[];
  /** Settings left out on purpose, with why. */
  readonly notes: readonly string[];
  readonly agentProcess?: string;
}

export const PATHS = {
  limits: '/etc/security/limits.d/90-loadfleet.conf',
  nrOpen: '/etc/sysctl.d/89-loadfleet-nr-open.conf',
  sysctl: '/etc/sysctl.d/90-loadfleet.conf',
  systemdManager: '/etc/systemd/system.conf.d/90-loadfleet-limits.conf',
  unitDropIn: (unit: string) => `/etc/systemd/system/${unit}.d/90-loadfleet-limits.conf`,
} as const;

/** Kernel settings that are one per machine, not per network namespace. */
export const MACHINE_WIDE = new Set(['fs.nr_open', 'fs.file-max', 'net.core.netdev_max_backlog', 'net.core.rmem_max', 'net.core.wmem_max', 'vm.max_map_count']);

/** The kernel's own default for fs.nr_open. */
export const DEFAULT_NR_OPEN = 1_048_576;

const PROFILES: Record<Role, readonly string[]> = {
  agent: ['common', 'generator'],
  controller: ['common', 'controller'],
  target: ['common', 'target'],
  monitoring: ['common', 'monitoring'],
};

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!(k in values)) throw new Error(`template placeholder {{${k}}} has no value`);
    return String(values[k]);
  });
}

/** key → value from sysctl.conf text; later lines win, as in sysctl -p. */
export function parseSysctl(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith(';')) continue;
    const i = t.indexOf('=');
    if (i < 0) continue;
    out.set(t.slice(0, i).trim(), normalize(t.slice(i + 1)));
  }
  return out;
}

export function normalize(v: string): string {
  return v.trim().split(/\s+/).join(' ');
}

export function planTuning(role: Role, opts: TuningOptions, t: TuningTemplates): TuningPlan {
  const values = { nofile: opts.nofile, nproc: opts.nproc, nrOpen: Math.max(DEFAULT_NR_OPEN, opts.nofile) };
  const notes: string[] = [];
  const settings = new Map<string, string>();
  const comments: string[] = [`# loadfleet: ${role} profile (${PROFILES[role].join(' + ')})`];
  for (const profile of PROFILES[role]) {
    const text = t.sysctl[profile];
    if (text === undefined) throw new Error(`no sysctl profile "${profile}" under ami/tuning/sysctl`);
    for (const [k, v] of parseSysctl(fill(text, values))) settings.set(k, v);
  }
  // Per network namespace, so it is set on local hosts too.
  if (opts.reservedPorts.length > 0) settings.set('net.ipv4.ip_local_reserved_ports', portListValue(opts.reservedPorts));
  if (opts.hostKind === 'netns') {
    for (const k of [...settings.keys()]) {
      if (MACHINE_WIDE.has(k)) {
        settings.delete(k);
        notes.push(`${k}: machine-wide, not set on a namespace host (it would change the whole machine)`);
      }
    }
  }
  const sysctlBody = [...settings].map(([k, v]) => `${k} = ${v}`).join('\n');
  const files: TuningFile[] = [
    { path: PATHS.limits, content: fill(t.limits, values), mode: '0644' },
    { path: PATHS.sysctl, content: `${comments.join('\n')}\n${sysctlBody}\n`, mode: '0644' },
    { path: PATHS.systemdManager, content: fill(t.systemdManager, values), mode: '0644' },
  ];
  const sysctlFiles: string[] = [];
  if (opts.hostKind === 'ec2') {
    const nrOpen = t.sysctl['nr-open'];
    if (nrOpen === undefined) throw new Error('no sysctl profile "nr-open" under ami/tuning/sysctl');
    files.splice(1, 0, { path: PATHS.nrOpen, content: fill(nrOpen, values), mode: '0644' });
    sysctlFiles.push(PATHS.nrOpen);
    settings.set('fs.nr_open', String(values.nrOpen));
  } else {
    notes.push('fs.nr_open: machine-wide, left as it is on a namespace host');
  }
  sysctlFiles.push(PATHS.sysctl);
  if (role === 'agent') files.push({ path: PATHS.unitDropIn(opts.engine.agentUnit), content: fill(t.systemdUnit, values), mode: '0644' });

  const expected: Expectation[] = [
    { setting: 'nofile soft', requested: String(opts.nofile) },
    { setting: 'nofile hard', requested: String(opts.nofile) },
    { setting: 'nproc soft', requested: String(opts.nproc) },
    { setting: 'nproc hard', requested: String(opts.nproc) },
    ...[...settings].map(([k, v]) => ({ setting: `sysctl ${k}`, requested: v })),
  ];
  return { role, files, sysctlFiles, sysctl: Object.fromEntries(settings), expected, notes, agentProcess: role === 'agent' ? opts.engine.agentProcess : undefined };
}

/**
 * Writes each file only when its content differs (so a rerun changes nothing), applies the sysctl files
 * with `sysctl -p` in order, and re-executes systemd when it runs. Prints "changed <path>". Runs as root:
 * it stops at the first write, sysctl or systemd step that fails, names the step on stderr
 * ("loadfleet: step <what> failed: <why>") and exits 1. Error output goes to a private mktemp file,
 * never to a fixed /tmp path another user could plant a link at.
 */
export function applyScript(plan: TuningPlan): string {
  const lines = [
    'set -u',
    'umask 022',
    ...CHECKED_PUT_SH,
  ];
  // put returns 1 for an unchanged file: not a failure (a failed write exits the script itself).
  for (const f of plan.files) lines.push(`put ${shQuote(f.path)} ${f.mode} ${shQuote(Buffer.from(f.content).toString('base64'))} || :`);
  // sysctl -p exits non-zero for a key it cannot set, but a read-only one may only print: check both.
  for (const f of plan.sysctlFiles) lines.push(`if ! sysctl -q -p ${shQuote(f)} >/dev/null 2>"$err" || [ -s "$err" ]; then fail ${shQuote(`sysctl -p ${f}`)}; fi`);
  lines.push('if [ -d /run/systemd/system ]; then systemctl daemon-reexec 2>"$err" || fail "systemd (systemctl daemon-reexec)"; fi');
  return `${lines.join('\n')}\n`;
}

/** Run in a NEW session: prints key=value lines of what is in effect, and what limits the host imposes. */
export function verifyScript(plan: TuningPlan): string {
  const lines = [
    'set -u',
    // /proc/self/limits rather than ulimit: dash has no -u, and this is what the session really has.
    `awk '/^Max open files/ {print "nofile soft=" $4; print "nofile hard=" $5} /^Max processes/ {print "nproc soft=" $3; print "nproc hard=" $4}' /proc/self/limits`,
    'echo "host nr_open=$(cat /proc/sys/fs/nr_open)"',
    'sp=$(cat /run/sshd.pid 2>/dev/null || pgrep -o -x sshd || echo 1)',
    `echo "host sshd nofile hard=$(awk '/^Max open files/ {print $5}' /proc/$sp/limits 2>/dev/null)"`,
  ];
  for (const k of Object.keys(plan.sysctl)) {
    const p = `/proc/sys/${k.replace(/\./g, '/')}`;
    lines.push(`echo "sysctl ${k}=$(cat ${p} 2>/dev/null | tr -s '\\t ' '  ' || echo '?')"`);
    lines.push(`if [ -w ${p} ]; then echo "writable ${k}=1"; else echo "writable ${k}=0"; fi`);
  }
  if (plan.agentProcess) {
    lines.push(`for p in $(pgrep -f ${shQuote(plan.agentProcess)}); do [ "$p" = "$$" ] && continue; echo "process $p nofile=$(awk '/^Max open files/ {print $4" "$5}' /proc/$p/limits 2>/dev/null)"; done`);
  }
  return `${lines.join('\n')}\n`;
}

export function parseObserved(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), normalize(line.slice(i + 1)));
  }
  return m;
}

export interface VerifyRow {
  readonly setting: string;
  readonly requested: string;
  readonly effective: string;
  readonly ok: boolean;
  readonly reason?: string;
}

function atLeast(effective: string, requested: string): boolean {
  if (effective === 'unlimited') return true;
  const e = Number(effective);
  const r = Number(requested);
  return Number.isFinite(e) && Number.isFinite(r) ? e >= r : effective === requested;
}

/** Requested vs effective for every expectation, with the reason when they differ. */
export function compareTuning(plan: TuningPlan, observed: Map<string, string>): VerifyRow[] {
  const rows: VerifyRow[] = plan.expected.map((x) => {
    const effective = observed.get(x.setting) ?? '?';
    const isLimit = !x.setting.startsWith('sysctl ');
    const ok = isLimit ? atLeast(effective, x.requested) : effective === x.requested;
    return { setting: x.setting, requested: x.requested, effective, ok, reason: ok ? undefined : reasonFor(x.setting, x.requested, effective, observed) };
  });
  for (const [k, v] of observed) {
    const m = /^process (\d+) nofile$/.exec(k);
    if (!m) continue;
    const [soft = '?', hard = '?'] = v.split(' ');
    const want = plan.expected.find((e) => e.setting === 'nofile hard')!.requested;
    const ok = atLeast(soft, want) && atLeast(hard, want);
    rows.push({ setting: `agent pid ${m[1]} nofile`, requested: `${want}/${want}`, effective: `${soft}/${hard}`, ok, reason: ok ? undefined : 'the process started before tuning (or its unit has no LimitNOFILE): restart it' });
  }
  return rows;
}

function reasonFor(setting: string, requested: string, effective: string, o: Map<string, string>): string {
  if (setting === 'nofile hard' || setting === 'nofile soft') {
    const cap = o.get('host sshd nofile hard');
    const nrOpen = o.get('host nr_open');
    if (nrOpen && Number(nrOpen) < Number(requested)) return `fs.nr_open is ${nrOpen}: the kernel refuses a larger nofile until it is raised`;
    if (cap && cap === o.get('nofile hard') && Number(cap) < Number(requested)) {
      return `the host caps the hard limit at ${cap} (sshd's own hard limit; pam_limits cannot raise past it without CAP_SYS_RESOURCE): ask for at most ${cap}, or raise the service manager's limit`;
    }
    if (setting === 'nofile soft' && atLeast(o.get('nofile hard') ?? '', requested)) return 'soft limit not raised in new sessions: is pam_limits enabled for sshd (UsePAM yes)?';
    return 'limits.d not applied to new sessions: is pam_limits enabled for sshd (UsePAM yes)?';
  }
  if (setting.startsWith('nproc')) return 'limits.d nproc not applied to new sessions: is pam_limits enabled for sshd (UsePAM yes)?';
  const key = setting.replace(/^sysctl /, '');
  if (effective === '?') return `${key} does not exist on this kernel`;
  if (o.get(`writable ${key}`) === '0') return `${key} is read-only here (a network namespace or container cannot change it)`;
  return `the kernel kept ${effective}: a later /etc/sysctl.d file may override it`;
}
