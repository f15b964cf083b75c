/**
 * Locust: a master on the controller (web-UI mode), one worker per core on every agent, all supervised.
 *
 * CONTRACT with `loadfleet run` (and anyone driving Locust on a fleet):
 * - Every host (controller and agents) loads the locustfile from ONE fixed path: LOCUST.locustfile
 *   (/etc/loadfleet/locust/locustfile.py). Install creates it with a harmless default (a user that sends
 *   nothing) only when it is missing, so a file written by `run` survives a re-install.
 * - To load a new locustfile: write it to LOCUST.locustfile on every host, then run
 *   `restartLocustScript(hostKind)` as root on every host (runAsRoot): it restarts the master / all
 *   workers of that host through the supervisor and returns once new processes are up.
 * - The web UI listens on the controller's 127.0.0.1 only (no security group rule: `loadfleet tunnel
 *   controller`); `run` calls it with curl on the controller over SSH (scripts/run/locust-control.ts).
 * - Then wait for the workers (GET http://127.0.0.1:LOCUST.webPort/stats/requests → `workers[]`,
 *   one per agent core, ids "<agent hostname>_<hex>") and drive the master through its web API:
 *   POST /swarm (user_count, spawn_rate, host), GET /stop, GET /stats/requests, GET /stats/requests/csv.
 * - Services: "locust-master" on the controller, "locust-worker@1" … "locust-worker@<cores>" on agents
 *   (systemd units on EC2, loadfleet's supervise loop on the local target; see scripts/core/supervise.ts).
 *
 * Versions: EC2 = Locust from PyPI in a venv under /opt/loadfleet; local target = Debian's
 * python3-locust 2.12.1 through DEBIAN_LOCUST_FIX (below), the one place that works around that
 * package's empty version string.
 */
import pins from '../../ami/engines/locust.json';
import { engineOf } from '../../stacks/engines';
import { controlOwnerScript } from '../core/supervise';
import type { HostKind } from '../core/tuning';
import { artifactsOf, ETC, OPT, shQuote, verifyFn, type PinsFile } from './common';
import type { DoctorContext, EngineSpec, HostCheck, InstallContext, ServiceSpec } from './types';

const PINS = pins as PinsFile;
const ENGINE = engineOf('locust');

export const LOCUST = {
  dir: `${ETC}/locust`,
  locustfile: `${ETC}/locust/locustfile.py`,
  /** The Debian fix wrapper (local target only). */
  debianFix: `${ETC}/locust/debian-python3-locust-2.12.1-version-fix.py`,
  masterPort: ENGINE.masterPort!,
  webPort: ENGINE.uiPort!,
  masterService: 'locust-master',
  workerService: (i: number) => `locust-worker@${i}`,
  /** The supervisor owner of Locust's services. */
  owner: 'engine',
  /** EC2: the venv of a version. */
  venv: (version: string) => `${OPT}/locust-${version}/venv`,
  /** EC2: the unprivileged user the services run as. */
  user: 'loadfleet',
} as const;

/** A locustfile that starts and sends nothing: the master and workers can run before `run` brings a real one. */
export const DEFAULT_LOCUSTFILE = `# loadfleet's default locustfile: it sends no request. \`loadfleet run\` replaces this file on every host.
from locust import User, constant, task


class Idle(User):
    wait_time = constant(1)

    @task
    def idle(self):
        pass
`;

/**
 * FIX FOR DEBIAN'S python3-locust 2.12.1 (bookworm). Its locust/_version.py holds an empty version, so
 * a master rejects every worker as "an old (pre 2.0) worker" and waits forever. Setting the version in
 * locust and locust.runners before the runner starts makes distributed mode work (verified here:
 * master and workers in separate network namespaces). Used only on the local target.
 */
export const DEBIAN_LOCUST_FIX = `"""Fix for Debian's python3-locust 2.12.1, written by loadfleet install.

Debian's package ships locust/_version.py with an empty version, so a master rejects every worker as
"an old (pre 2.0) worker". Setting the version before the runner starts makes distributed mode work.
"""
import sys

import locust
import locust.runners

if not locust.__version__:
    locust.__version__ = locust.runners.__version__ = "2.12.1"

from locust.main import main  # noqa: E402  (after the fix on purpose)

sys.exit(main())
`;

/** argv prefix that starts Locust on a host kind. */
function locustCommand(ctx: Pick<InstallContext, 'hostKind' | 'version'>): string[] {
  return ctx.hostKind === 'netns' ? ['/usr/bin/python3', LOCUST.debianFix] : [`${LOCUST.venv(ctx.version)}/bin/locust`];
}

function services(ctx: InstallContext): ServiceSpec[] {
  const base = { workDir: LOCUST.dir, user: ctx.hostKind === 'ec2' ? LOCUST.user : undefined, nofile: ctx.nofile };
  if (ctx.role === 'controller') {
    return [
      {
        ...base,
        name: LOCUST.masterService,
        argv: [...locustCommand(ctx), '-f', LOCUST.locustfile, '--master', '--master-bind-host', '0.0.0.0', '--master-bind-port', String(LOCUST.masterPort), '--web-host', '127.0.0.1', '--web-port', String(LOCUST.webPort)],
        processPattern: 'locust.*--master( |$)',
      },
    ];
  }
  if (ctx.role === 'agent') {
    if (!ctx.master) throw new Error('Locust agents need the master address from the env outputs');
    const n = Math.max(1, ctx.cores);
    return Array.from({ length: n }, (_, i) => ({
      ...base,
      name: LOCUST.workerService(i + 1),
      argv: [...locustCommand(ctx), '-f', LOCUST.locustfile, '--worker', '--master-host', ctx.master!.address, '--master-port', String(ctx.master!.port)],
      processPattern: ENGINE.agentProcess,
    }));
  }
  return [];
}

const b64 = (s: string) => shQuote(Buffer.from(s).toString('base64'));

/** Per-host files (both kinds): the fix (netns), the default locustfile when none is there. */
function hostFiles(ctx: InstallContext): string[] {
  const lines = [
    'put() { d=$(dirname "$1"); mkdir -p "$d"; t=$(mktemp "$d/.loadfleet.XXXXXX"); printf %s "$3" | base64 -d > "$t"; chmod "$2" "$t";',
    '  if cmp -s "$t" "$1"; then rm -f "$t"; else mv -f "$t" "$1"; echo "changed $1"; fi; }',
    `mkdir -p ${LOCUST.dir}`,
    `[ -e ${LOCUST.locustfile} ] || put ${LOCUST.locustfile} 0644 ${b64(DEFAULT_LOCUSTFILE)}`,
  ];
  if (ctx.hostKind === 'netns') lines.push(`put ${LOCUST.debianFix} 0644 ${b64(DEBIAN_LOCUST_FIX)}`);
  return lines;
}

function installScript(ctx: InstallContext): string {
  const arts = artifactsOf(locust, ctx.version, ctx.hostKind, ctx.cacheDir);
  const lines = ['set -eu', 'umask 022', verifyFn('locust', arts)];
  if (ctx.hostKind === 'netns') {
    // The local target shares /usr and the dpkg database with the machine: scripts/setup.sh installs the
    // package and stages its .deb; here we prove both are the pinned ones, then write this host's files.
    const deb = arts.find((a) => a.name === 'python3-locust')!;
    lines.push(
      `[ -r ${shQuote(deb.url)} ] || fail "${deb.url} is missing: run scripts/setup.sh on this machine (it stages the local target's engines)"`,
      `verify ${shQuote(deb.url)} python3-locust`,
      `v=$(dpkg-query -W -f='\${Version}' python3-locust 2>/dev/null || true)`,
      `[ "$v" = ${shQuote(deb.version)} ] || fail "python3-locust \${v:-(not installed)} is on this machine, ${deb.version} is pinned: run scripts/setup.sh"`,
      `bad=$(dpkg --verify python3-locust 2>&1 || true); [ -z "$bad" ] || fail "python3-locust's installed files differ from the package: $bad (reinstall it: apt-get install --reinstall python3-locust)"`,
      ...hostFiles(ctx),
    );
  } else {
    const whl = arts.find((a) => a.name === 'locust')!;
    const dir = `${OPT}/locust-${ctx.version}`;
    // Built in place (a venv cannot be moved) but only marked complete after verification; an
    // incomplete tree is removed on any failure, so a host is never left half-installed.
    lines.push(
      `D=${dir}`,
      `id ${LOCUST.user} >/dev/null 2>&1 || { useradd --system --no-create-home --shell /sbin/nologin ${LOCUST.user}; echo "changed user ${LOCUST.user}"; }`,
      'if [ ! -e "$D/.complete" ]; then',
      '  rm -rf "$D"; trap \'[ -e "$D/.complete" ] || rm -rf "$D"\' EXIT',
      '  command -v python3.11 >/dev/null || { dnf install -y -q python3.11 python3.11-pip >/dev/null || fail "dnf install python3.11 failed"; echo "changed installed python3.11"; }',
      '  mkdir -p "$D/dl" && python3.11 -m venv "$D/venv" || fail "creating the venv failed"',
      `  "$D/venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$D/dl" ${shQuote(`locust==${ctx.version}`)} || fail "pip download locust==${ctx.version} failed"`,
      whl.sha256 ? `  verify "$D"/dl/locust-*.whl locust` : `  echo "install locust: WARNING: no sha256 pinned for the locust ${ctx.version} wheel (${(whl.unverified ?? '').replace(/"/g, "'")})" >&2`,
      '  "$D/venv/bin/pip" install -q "$D"/dl/locust-*.whl || fail "pip install locust failed"',
      `  [ "$("$D/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("locust"))')" = ${shQuote(ctx.version)} ] || fail "the venv does not hold locust ${ctx.version}"`,
      '  touch "$D/.complete"; echo "changed installed locust $D"',
      'fi',
      ...hostFiles(ctx),
    );
  }
  lines.push('exit 0');
  return `${lines.join('\n')}\n`;
}

function versionScript(ctx: InstallContext): string {
  if (ctx.hostKind === 'netns') {
    // The package's own version is empty; the pinned package version and the fix together are what runs.
    return `[ -r ${LOCUST.debianFix} ] && v=$(dpkg-query -W -f='\${Version}' python3-locust 2>/dev/null) && echo "\${v%-*}"\n`;
  }
  return locustEc2VersionScript();
}

/**
 * EC2: the version of the venv(s) the installed units start (old venvs stay on disk after an
 * engineVersion change and are not what runs). Before any unit exists (an image baked without
 * services) every complete venv counts. Roots are parameters so a test can run it on a scratch tree.
 */
export function locustEc2VersionScript(opt: string = OPT, unitDir = '/etc/systemd/system'): string {
  const ver = `"$d/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("locust"))'`;
  return [
    `used=$(cat ${unitDir}/locust-*.service 2>/dev/null | grep -o '${opt}/locust-[^/ ]*/venv/bin/locust' | sed 's#/venv/bin/locust$#/#' | sort -u)`,
    `[ -n "$used" ] || used=$(ls -d ${opt}/locust-*/ 2>/dev/null)`,
    `for d in $used; do [ -e "$d.complete" ] && ${ver}; done 2>/dev/null | sort -u | paste -sd, -`,
    '',
  ].join('\n');
}

/** Controller: the master reports, per agent hostname, as many workers as that agent has cores. */
function checks(ctx: DoctorContext): HostCheck[] {
  if (ctx.role !== 'controller') return [];
  const want = Object.fromEntries(ctx.agentFacts.map((a) => [a.hostname, { name: a.name, cores: a.cores }]));
  const py = `
import json, sys, urllib.request
want = json.loads(sys.argv[1])
try:
    d = json.load(urllib.request.urlopen("http://127.0.0.1:${LOCUST.webPort}/stats/requests", timeout=5))
except Exception as e:
    print("FAIL the master's web API on port ${LOCUST.webPort} does not answer: %s" % e); sys.exit(0)
have = {}
for w in d.get("workers", []):
    h = w["id"].rsplit("_", 1)[0]
    if w.get("state") != "missing": have[h] = have.get(h, 0) + 1
bad = ["%s has %d of %d workers connected" % (v["name"], have.get(h, 0), v["cores"]) for h, v in sorted(want.items()) if have.get(h, 0) < v["cores"]]
total = sum(have.values())
print(("FAIL " + "; ".join(bad)) if bad else "ok %d workers connected from %d agents" % (total, len(want)))
`;
  return [{ name: 'master sees workers', script: `/usr/bin/python3 -c ${shQuote(py)} ${shQuote(JSON.stringify(want))}\n` }];
}

/** sh (as root) that restarts every Locust service of a host and returns once new processes run. */
export function restartLocustScript(hostKind: HostKind): string {
  return controlOwnerScript('restart', LOCUST.owner, hostKind);
}

export const locust: EngineSpec = {
  name: 'locust',
  defaultVersion: PINS.default,
  versions: PINS.versions,
  roles: ['controller', 'agent'],
  installScript,
  services,
  versionScript,
  checks,
};
