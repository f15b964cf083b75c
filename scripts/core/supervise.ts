/**
 * Supervision of long-running processes, for any role (engines, monitoring): a ServiceSpec in, a
 * supervised process out. Pure: renders the sh that install runs as root.
 *
 * - EC2 (systemd): one unit /etc/systemd/system/<name>.service per spec, Restart=always, LimitNOFILE
 *   set in the unit itself (so it does not depend on `tune` having run) and — for the engine's agent
 *   unit — also the drop-in `tune` writes (/etc/systemd/system/<agentUnit>.d/90-loadfleet-limits.conf).
 *   A name with "@N" is an instance of a template unit "<base>@.service" (one per core).
 * - netns (local target: no systemd, PID 1 is sshd): loadfleet's own supervise loop, a small sh per
 *   service that survives the SSH session (setsid), restarts the process 1 s after it exits, and sets
 *   the tuned nofile (soft = hard) before exec. Files: /etc/loadfleet/sv/<name>/run (what to run),
 *   /run/loadfleet/sv/<name>/{pid,supervise.pid,restarts}, log /var/log/loadfleet/<name>.log.
 *
 * API for other roles (monitoring reuses it):
 *   installServicesScript(specs, { hostKind, owner, nofile }) → idempotent sh: writes/updates the
 *     services, (re)starts what changed or is not running, removes this owner's services that are no
 *     longer listed; prints "changed <what>" per change.
 *   controlScript(action, names, hostKind) → sh for restart | stop | start.
 *   statusScript(names, hostKind) → sh printing "service <name> pid=<pid> nofile=<soft>/<hard>" or
 *     "service <name> down <why>"; parseStatus() reads it back.
 */
import type { ServiceSpec } from '../engines/types';
import type { HostKind } from './tuning';
import { CHECKED_PUT_SH } from './sh-put';
import { shQuote } from './safe-text';

export const SV = {
  etc: '/etc/loadfleet/sv',
  run: '/run/loadfleet/sv',
  log: '/var/log/loadfleet',
  supervise: '/etc/loadfleet/sv/.supervise',
} as const;

const NAME_RE = /^[a-z0-9][a-z0-9@-]*$/;

/** POSIX shell single-quoting: the one in safe-text.ts, re-exported for the engine descriptions. */
export { shQuote };

function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new Error(`service name "${name}" must be lower-case letters, digits, "-" and "@"`);
}

/** systemd unit file name of a service: "locust-worker@1" → "locust-worker@1.service". */
export function unitName(name: string): string {
  return `${name}.service`;
}

/** The template a "base@instance" service is rendered into; the unit itself for plain names. */
function unitFileOf(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? `${name}.service` : `${name.slice(0, at)}@.service`;
}

/** A systemd unit for one spec. Template instances share one file; "%i" is not used in argv so it stays literal. */
export function systemdUnit(spec: ServiceSpec, nofile: number, owner: string): string {
  const env = Object.entries(spec.env ?? {}).map(([k, v]) => `Environment="${k}=${v.replace(/(["\\])/g, '\\$1')}"`);
  return [
    '# written by loadfleet install: do not edit (rerun install instead)',
    '[Unit]',
    `Description=loadfleet ${spec.name.replace(/@.*/, '')} (${owner})`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    `User=${spec.user ?? 'root'}`,
    `WorkingDirectory=${spec.workDir}`,
    ...env,
    `ExecStart=${spec.argv.map((a) => (/[\s"'\\$]/.test(a) ? `"${a.replace(/(["\\$])/g, '\\$1')}"` : a)).join(' ')}`,
    'Restart=always',
    'RestartSec=1',
    `LimitNOFILE=${spec.nofile ?? nofile}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The run file of a netns service: cd, env, limits, exec. */
export function netnsRunFile(spec: ServiceSpec, nofile: number): string {
  const n = spec.nofile ?? nofile;
  const user = spec.user && spec.user !== 'root' ? `exec setpriv --reuid=${shQuote(spec.user)} --regid=${shQuote(spec.user)} --init-groups ` : 'exec ';
  return [
    '#!/bin/sh',
    '# written by loadfleet install: do not edit (rerun install instead)',
    `cd ${shQuote(spec.workDir)} || exit 1`,
    ...Object.entries(spec.env ?? {}).map(([k, v]) => `export ${k}=${shQuote(v)}`),
    // Hard first: lowering the soft limit is always allowed, raising hard needs headroom under the session's hard limit.
    `ulimit -Hn ${n} 2>/dev/null || ulimit -Hn; ulimit -Sn ${n} || { echo "loadfleet supervise: cannot set nofile ${n} (hard limit $(ulimit -Hn)): run loadfleet tune first" >&2; exit 111; }`,
    `${user}${spec.argv.map(shQuote).join(' ')}`,
    '',
  ].join('\n');
}

/**
 * The supervise loop (netns hosts). Started with setsid so it outlives the SSH session; on SIGTERM it
 * stops its child and exits; otherwise it restarts the child 1 s after every exit and counts restarts.
 */
export const SUPERVISE_SH = `#!/bin/sh
# loadfleet supervise NAME: keeps ${SV.etc}/NAME/run running (the local target has no systemd).
# Restarts it 1 s after it exits; SIGTERM stops the child and the loop. State under ${SV.run}/NAME.
name=$1
d=${SV.etc}/$name
r=${SV.run}/$name
log=${SV.log}/$name.log
mkdir -p "$r" ${SV.log}
echo $$ > "$r/supervise.pid"
child=
trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi; rm -f "$r/pid" "$r/supervise.pid"; exit 0' TERM INT HUP
n=0
while :; do
  sh "$d/run" >>"$log" 2>&1 </dev/null &
  child=$!
  echo "$child" > "$r/pid"
  wait "$child"
  rc=$?
  n=$((n + 1))
  echo "$n" > "$r/restarts"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) loadfleet supervise: $name exited ($rc), restart $n in 1 s" >>"$log"
  sleep 1
done
`;

export interface ServicesOptions {
  readonly hostKind: HostKind;
  /** Who owns these services ("engine", "monitoring"): only this owner's stale services are removed. */
  readonly owner: string;
  readonly nofile: number;
}

/** Idempotent sh (run as root) that puts the services in place and keeps them running. */
export function installServicesScript(specs: readonly ServiceSpec[], opts: ServicesOptions): string {
  for (const s of specs) checkName(s.name);
  if (!NAME_RE.test(opts.owner)) throw new Error(`owner "${opts.owner}" must be lower-case letters and digits`);
  const b64 = (s: string) => shQuote(Buffer.from(s).toString('base64'));
  const names = specs.map((s) => s.name);
  const lines = ['set -u', 'umask 022', ...CHECKED_PUT_SH];
  if (opts.hostKind === 'ec2') {
    lines.push('command -v systemctl >/dev/null || { echo "systemctl not found: EC2 hosts are expected to run systemd" >&2; exit 1; }');
    const files = new Map<string, ServiceSpec>();
    for (const s of specs) files.set(unitFileOf(s.name), s);
    lines.push('reload=0');
    for (const [file, s] of files) {
      lines.push(`if put /etc/systemd/system/${file} 0644 ${b64(systemdUnit(s, opts.nofile, opts.owner))}; then reload=1; touch /run/.loadfleet-restart-${file}; fi`);
    }
    // Stale units of this owner (e.g. fewer cores, another engine): stop, disable, remove.
    lines.push(`mkdir -p /etc/loadfleet; owned=/etc/loadfleet/units.${opts.owner}`);
    lines.push(`keep=${shQuote(` ${names.map(unitName).join(' ')} `)}; keepf=${shQuote(` ${[...files.keys()].join(' ')} `)}`);
    lines.push(`for u in $(cat "$owned" 2>/dev/null); do case "$keep" in *" $u "*) ;; *) systemctl disable --now "$u" >/dev/null 2>&1; echo "changed removed $u";; esac; done`);
    lines.push(`for f in $(cat "$owned.files" 2>/dev/null); do case "$keepf" in *" $f "*) ;; *) rm -f "/etc/systemd/system/$f"; reload=1;; esac; done`);
    const list = (items: string[], file: string) => (items.length ? `printf '%s\\n' ${items.map(shQuote).join(' ')} > "${file}"` : `: > "${file}"`);
    lines.push(`${list(names.map(unitName), '$owned')}; ${list([...files.keys()], '$owned.files')}`);
    lines.push('if [ "$reload" = 1 ]; then systemctl daemon-reload 2>"$err" || fail "systemd (systemctl daemon-reload)"; fi');
    lines.push('started=');
    for (const n of names) {
      const u = unitName(n);
      lines.push(
        `if [ -e /run/.loadfleet-restart-${unitFileOf(n)} ] && systemctl is-active -q ${u}; then systemctl restart ${u} 2>"$err" || fail "restart ${u}"; echo "changed restarted ${u}"; started="$started ${u}"; ` +
          `elif ! systemctl is-active -q ${u}; then systemctl enable -q --now ${u} 2>"$err" || fail "start ${u}"; echo "changed started ${u}"; started="$started ${u}"; fi`,
      );
      lines.push(`systemctl is-enabled -q ${u} || { systemctl enable -q ${u} 2>"$err" || fail "enable ${u}"; echo "changed enabled ${u}"; }`);
    }
    lines.push('rm -f /run/.loadfleet-restart-*');
    // A unit whose process exits at once is "activating (auto-restart)" or "failed" a moment later, not
    // active: install must not report success for it. Its last journal lines say why.
    lines.push(
      'if [ -n "$started" ]; then sleep 2; for u in $started; do systemctl is-active -q "$u" && continue;',
      `  { echo "$u is $(systemctl is-active "$u" 2>&1) after start;"; journalctl -u "$u" -n 5 -o cat --no-pager 2>&1; } > "$err"; fail "start $u"; done; fi`,
    );
  } else {
    lines.push(`put ${SV.supervise} 0755 ${b64(SUPERVISE_SH)} >/dev/null; mkdir -p ${SV.run} ${SV.log}`);
    lines.push('alive() { p=$(cat "' + SV.run + '/$1/supervise.pid" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }');
    lines.push(
      `start() { rm -f "${SV.etc}/$1/down" "${SV.run}/$1/restarts" "${SV.run}/$1/pid"; cd /; setsid nohup /bin/sh ${SV.supervise} "$1" >/dev/null 2>&1 </dev/null & i=0; while [ ! -s "${SV.run}/$1/pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done;`,
      `  [ -s "${SV.run}/$1/pid" ] || { echo "its supervisor wrote no pid in 5 s" > "$err"; fail "start $1"; }; started="$started $1"; }`,
    );
    lines.push('started=');
    lines.push(`stop() { p=$(cat "${SV.run}/$1/supervise.pid" 2>/dev/null); [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; i=0; while alive "$1" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; }`);
    for (const s of specs) {
      lines.push(`echo ${shQuote(opts.owner)} > ${SV.etc}/.owner-${s.name}.tmp 2>/dev/null || { mkdir -p ${SV.etc}; echo ${shQuote(opts.owner)} > ${SV.etc}/.owner-${s.name}.tmp; }; mv -f ${SV.etc}/.owner-${s.name}.tmp ${SV.etc}/${s.name}.owner`);
      lines.push(`if put ${SV.etc}/${s.name}/run 0755 ${b64(netnsRunFile(s, opts.nofile))} >/dev/null; then`);
      lines.push(`  if alive ${s.name}; then stop ${s.name}; fi; start ${s.name}; echo "changed started ${s.name}"`);
      lines.push(`elif ! alive ${s.name}; then start ${s.name}; echo "changed started ${s.name}"; fi`);
    }
    // Stale services of this owner: stop and remove.
    lines.push(`keep=${shQuote(` ${names.join(' ')} `)}`);
    lines.push(`for o in ${SV.etc}/*.owner; do [ -e "$o" ] || continue; n=$(basename "$o" .owner); [ "$(cat "$o")" = ${shQuote(opts.owner)} ] || continue;`);
    lines.push(`  case "$keep" in *" $n "*) ;; *) stop "$n"; rm -rf "${SV.etc}/$n" "$o" "${SV.run}/$n"; echo "changed removed $n";; esac; done`);
    // The supervisor restarts a process 1 s after it exits and counts it in "restarts": a process that
    // cannot start (bad path, crash on load) has exited by then. Its last log lines say why.
    lines.push(
      'if [ -n "$started" ]; then sleep 1.5; for n in $started; do',
      `  p=$(cat "${SV.run}/$n/pid" 2>/dev/null); if [ ! -s "${SV.run}/$n/restarts" ] && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then continue; fi`,
      `  { echo "$n exited $(cat "${SV.run}/$n/restarts" 2>/dev/null || echo 1) time(s) right after start;"; tail -n 5 "${SV.log}/$n.log" 2>&1; } > "$err"; fail "start $n"; done; fi`,
    );
  }
  lines.push('exit 0');
  return `${lines.join('\n')}\n`;
}

export type ControlAction = 'restart' | 'stop' | 'start';

/** sh (as root) that restarts, stops for good (until the next install/start) or starts named services. */
export function controlScript(action: ControlAction, names: readonly string[], hostKind: HostKind): string {
  for (const n of names) checkName(n);
  return controlBody(action, `names=${shQuote(names.join(' '))}`, hostKind);
}

/** sh setting $names to every service of an owner on the host. */
function ownerNames(owner: string, hostKind: HostKind): string {
  if (!NAME_RE.test(owner)) throw new Error(`owner "${owner}" must be lower-case letters and digits`);
  return hostKind === 'ec2'
    ? `names=$(sed 's/\\.service$//' /etc/loadfleet/units.${owner} 2>/dev/null | tr '\\n' ' ')`
    : `names=$(for o in ${SV.etc}/*.owner; do [ -e "$o" ] && [ "$(cat "$o")" = ${shQuote(owner)} ] && basename "$o" .owner; done | tr '\\n' ' ')`;
}

/** The same for every service of an owner on the host (e.g. all of Locust's, however many cores). */
export function controlOwnerScript(action: ControlAction, owner: string, hostKind: HostKind): string {
  return controlBody(action, `${ownerNames(owner, hostKind)}\n[ -n "$names" ] || { echo "no ${owner} services on this host: run loadfleet install" >&2; exit 1; }`, hostKind);
}

function controlBody(action: ControlAction, namesLine: string, hostKind: HostKind): string {
  if (hostKind === 'ec2') return `set -eu\n${namesLine}\nfor n in $names; do systemctl ${action} "$n.service"; done\n`;
  const lines = [
    'set -u',
    namesLine,
    'alive() { p=$(cat "' + SV.run + '/$1/supervise.pid" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }',
    `for n in $names; do [ -e "${SV.etc}/$n/run" ] || { echo "service $n is not installed: run loadfleet install" >&2; exit 1; }; done`,
    'for n in $names; do',
  ];
  if (action === 'restart') {
    // The supervisor restarts the process 1 s after it exits: wait until a new pid is up.
    lines.push(
      '  alive "$n" || { echo "service $n is not supervised (stopped?): run loadfleet install" >&2; exit 1; }',
      `  old=$(cat ${SV.run}/$n/pid 2>/dev/null); [ -n "$old" ] && kill -TERM "$old" 2>/dev/null`,
      `  i=0; while [ "$(cat ${SV.run}/$n/pid 2>/dev/null)" = "$old" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`,
    );
  } else if (action === 'stop') {
    lines.push(
      `  touch ${SV.etc}/$n/down; p=$(cat ${SV.run}/$n/supervise.pid 2>/dev/null); [ -n "$p" ] && kill -TERM "$p" 2>/dev/null`,
      '  i=0; while alive "$n" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
    );
  } else {
    lines.push(`  alive "$n" || { rm -f ${SV.etc}/$n/down; cd /; setsid nohup /bin/sh ${SV.supervise} "$n" >/dev/null 2>&1 </dev/null & }`);
  }
  lines.push('done', 'exit 0');
  return `${lines.join('\n')}\n`;
}

/** sh printing one status line per service: its main pid and the nofile limits in /proc/<pid>/limits. */
export function statusScript(names: readonly string[], hostKind: HostKind): string {
  for (const n of names) checkName(n);
  return statusBody(`names=${shQuote(names.join(' '))}`, hostKind);
}

/** The same for every service of an owner (what doctor reads). */
export function statusOwnerScript(owner: string, hostKind: HostKind): string {
  return statusBody(ownerNames(owner, hostKind), hostKind);
}

function statusBody(namesLine: string, hostKind: HostKind): string {
  const pidOf = hostKind === 'ec2' ? `p=$(systemctl show -p MainPID --value "$n.service" 2>/dev/null); [ "$p" = 0 ] && p=` : `p=$(cat ${SV.run}/$n/pid 2>/dev/null)`;
  return [
    namesLine,
    'for n in $names; do',
    `  ${pidOf}`,
    '  if [ -n "$p" ] && [ -r "/proc/$p/limits" ]; then',
    `    echo "service $n pid=$p nofile=$(awk '/^Max open files/ {print $4 "/" $5}' /proc/$p/limits)"`,
    '  else echo "service $n down not running"; fi',
    'done',
    '',
  ].join('\n');
}

export interface ServiceStatus {
  readonly name: string;
  readonly pid?: number;
  readonly nofileSoft?: string;
  readonly nofileHard?: string;
}

export function parseStatus(stdout: string): Map<string, ServiceStatus> {
  const out = new Map<string, ServiceStatus>();
  for (const line of stdout.split('\n')) {
    const m = /^service (\S+) pid=(\d+) nofile=(\S+)\/(\S+)$/.exec(line.trim());
    if (m) out.set(m[1]!, { name: m[1]!, pid: Number(m[2]), nofileSoft: m[3], nofileHard: m[4] });
    else {
      const d = /^service (\S+) down/.exec(line.trim());
      if (d) out.set(d[1]!, { name: d[1]! });
    }
  }
  return out;
}
