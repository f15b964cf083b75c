/**
 * nGrinder on EC2: Amazon Corretto 11 everywhere (3.5.9-p1 is built for Java 11); the controller war
 * as a supervised service on the controller (UI and REST API on NGRINDER_PORTS.ui, agents on
 * NGRINDER_PORTS.agentController, test consoles from NGRINDER_PORTS.consoleBase, one per concurrent
 * test); on every agent the package the controller itself serves at /agent/download, fetched with the
 * official Docker agent's patience (30 tries, 10 s apart) while the controller starts, and run as a
 * service pointed at controller:16001. All ports come from stacks/engines.ts.
 *
 * The controller seeds admin/admin (and user/user, superuser/superuser, system/system) on its first
 * start (DBInit). ngrinderAdminPasswordScript replaces them through the controller's own REST API
 * (PUT /user/api/{userId}, HTTP Basic, as nGrinder's SecurityConfig allows) with a generated password
 * that the install action stores in the env folder with mode 0600.
 *
 * No checksum of ngrinder-controller-3.5.9-p1.war is published (see ami/engines/ngrinder.json): the war is
 * checked against the sha256 the user gives (config engineSha256) or, with `install --trust-first-download`,
 * the first download's sha256 is printed ("loadfleet-sha256 …") and recorded in the env folder by install;
 * every later install checks against that record. Without either, install refuses with exit 2.
 */
import { NGRINDER_PORTS } from '../../stacks/engines';
import pinsJson from '../../ami/engines/ngrinder.json';
import { correttoStep, installFileStep, trustFirstFileStep, tcpReachScript, javaHome, OPT, pinnedArtifact, preamble, putFile, requireEc2, shQuote, systemUserStep, VAR, type EnginePins, type RawResults } from './ec2-steps';
import type { DoctorContext, EngineSpec, HostCheck, InstallContext, ServiceSpec } from './types';

export const NGRINDER_PINS: EnginePins = pinsJson;
/** The controller war's artifact name in the pins (its sha256 is `unpublished`). */
export const NGRINDER_WAR = 'ngrinder-controller';

const USER = 'ngrinder';
/** The controller's NGRINDER_HOME: database, scripts, test results. */
export const NGRINDER_HOME = `${VAR}/ngrinder`;
const AGENT_HOME = `${VAR}/ngrinder-agent`;
const AGENT_DIR = `${OPT}/ngrinder-agent`;
const CONTROLLER_UNIT = 'ngrinder-controller';
/** The official Docker agent's retry budget for /agent/download while the controller starts. */
export const AGENT_DOWNLOAD_TRIES = 30;
export const AGENT_DOWNLOAD_DELAY_S = 10;

/** The env-folder file (mode 0600) that keeps the controller's admin password. */
export const NGRINDER_ADMIN_PASSWORD_FILE = 'ngrinder-admin-password';
const PASSWORD_RE = /^[A-Za-z0-9]{20,64}$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function warPath(version: string): string {
  return `${OPT}/ngrinder/ngrinder-controller-${version}.war`;
}

function controllerScript(pins: EnginePins, ctx: InstallContext): string[] {
  const a = pinnedArtifact(pins, ctx.version, NGRINDER_WAR, ctx.digests?.[NGRINDER_WAR], ctx.trustFirstDownload === true);
  const lines = [
    ...systemUserStep(USER, NGRINDER_HOME),
    // nGrinder refuses the OS default tmpdir (it unpacks the war there): a private one under its home.
    `mkdir -p ${NGRINDER_HOME}/tmp && chown ${USER}: ${NGRINDER_HOME}/tmp`,
    ...(a.digest ? installFileStep({ ...a, digest: a.digest }, warPath(ctx.version)) : trustFirstFileStep(a, warPath(ctx.version))),
    `for f in ${OPT}/ngrinder/ngrinder-controller-*.war; do [ "$f" = ${shQuote(warPath(ctx.version))} ] || [ ! -e "$f" ] || { rm -f "$f" "$f".sha*; echo "changed removed $f"; }; done`,
  ];
  if (NGRINDER_PORTS.ui < 1024) {
    // The controller runs unprivileged; binding a port below 1024 takes this one capability, nothing more.
    lines.push(
      putFile(`/etc/systemd/system/${CONTROLLER_UNIT}.service.d/10-loadfleet-bind.conf`, '0644', '[Service]\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n'),
      `if [ "$put_changed" = 1 ]; then systemctl daemon-reload; systemctl try-restart ${CONTROLLER_UNIT}.service; fi`,
    );
  }
  return lines;
}

function agentScript(ctx: InstallContext): string[] {
  // No controller yet (an image bake): Java and the user only; the package comes from the env's own
  // controller at the first install, since it carries that controller's address and version.
  if (!ctx.master) return systemUserStep(USER, AGENT_HOME);
  const url = `http://${ctx.master.address}:${NGRINDER_PORTS.ui}/agent/download`;
  const from = `${url} ${ctx.version}`;
  return [
    ...systemUserStep(USER, AGENT_HOME),
    // Re-download when the controller (a new env) or the version changed; the package is built by our own
    // controller, whose war was checked, and comes over the private network.
    `if [ "$(cat ${AGENT_DIR}/.loadfleet-from 2>/dev/null)" != ${shQuote(from)} ]; then`,
    `  tmp=$(mktemp -d ${OPT}/.ngrinder-agent.XXXXXX)`,
    `  trap 'rm -rf "$tmp"' EXIT`,
    '  i=0',
    // -L: GET /agent/download answers 302 to /agent/download/<package>.tar (AgentDownloadController.downloadFile:
    // `return "redirect:/agent/download/" + agentPackage.getName()`, naver/ngrinder ngrinder-3.5.9-p1-20240613,
    // ngrinder-controller/src/main/java/org/ngrinder/agent/controller/AgentDownloadController.java).
    `  until curl -fsSL --max-time 60 -o "$tmp/agent.tar" ${shQuote(url)}; do`,
    '    i=$((i + 1))',
    `    [ "$i" -lt ${AGENT_DOWNLOAD_TRIES} ] || fail "no agent package from ${url} after ${AGENT_DOWNLOAD_TRIES} tries ${AGENT_DOWNLOAD_DELAY_S} s apart: is the controller up? (journalctl -u ${CONTROLLER_UNIT} on the controller)"`,
    `    sleep ${AGENT_DOWNLOAD_DELAY_S}`,
    '  done',
    '  tar -xf "$tmp/agent.tar" -C "$tmp" || fail "cannot unpack the agent package from ' + url + '"',
    '  [ -x "$tmp/ngrinder-agent/run_agent.sh" ] || fail "the agent package has no ngrinder-agent/run_agent.sh"',
    `  ls "$tmp"/ngrinder-agent/lib/ngrinder-core-${ctx.version}.jar >/dev/null 2>&1 || fail "the controller serves an agent of another version than ${ctx.version}: agents and controller must match"`,
    `  printf '%s\\n' ${shQuote(from)} > "$tmp/ngrinder-agent/.loadfleet-from"`,
    `  chown -R ${USER}: "$tmp/ngrinder-agent"`,
    `  rm -rf ${AGENT_DIR}`,
    `  mv "$tmp/ngrinder-agent" ${AGENT_DIR}`,
    '  rm -rf "$tmp"; trap - EXIT',
    `  echo "changed installed ${AGENT_DIR} from ${url}"`,
    'fi',
  ];
}

function installScript(pins: EnginePins, ctx: InstallContext): string {
  requireEc2('ngrinder', ctx);
  const role = ctx.role === 'controller' ? controllerScript(pins, ctx) : agentScript(ctx);
  return [...preamble('ngrinder', { fetch: ctx.role === 'controller' }), ...correttoStep(11), ...role, putFile(`${OPT}/ngrinder/VERSION`, '0644', `${ctx.version}\n`), 'exit 0', ''].join('\n');
}

const JAVA_ENV = { JAVA_HOME: javaHome(11), PATH: `${javaHome(11)}/bin:/usr/local/bin:/usr/bin:/bin` };

function services(ctx: InstallContext): readonly ServiceSpec[] {
  requireEc2('ngrinder', ctx);
  if (ctx.role === 'controller') {
    return [
      {
        name: CONTROLLER_UNIT,
        argv: [
          `${javaHome(11)}/bin/java`,
          `-Djava.io.tmpdir=${NGRINDER_HOME}/tmp`,
          '-jar',
          warPath(ctx.version),
          '--port',
          String(NGRINDER_PORTS.ui),
          '--ngrinder-home',
          NGRINDER_HOME,
          '--controller-port',
          String(NGRINDER_PORTS.agentController),
          `-Dcontroller.console_port_base=${NGRINDER_PORTS.consoleBase}`,
          `-Dcontroller.max_concurrent_test=${NGRINDER_PORTS.maxConcurrentTests}`,
          // Never put admin back to admin/admin on a restart; no usage reports sent out of the fleet.
          '-Dcontroller.admin_password_reset=false',
          '-Dcontroller.usage_report=false',
          '-Dcontroller.enable_agent_auto_approval=true',
        ],
        env: JAVA_ENV,
        workDir: NGRINDER_HOME,
        processPattern: 'ngrinder-controller-.*\\.war',
        user: USER,
      },
    ];
  }
  if (ctx.role !== 'agent' || !ctx.master) return [];
  return [
    {
      name: 'ngrinder-agent',
      // No -o: -o/--overwrite-config was removed in 3.5.0 (ngrinder commit a7201846e), and JCommander 1.32 rejects an
      // unknown option, after which NGrinderAgentStarterParam's parse() calls System.exit(-1): a crash loop under the
      // supervisor. -ch/-cp are system properties that override agent.conf (AgentConfig.loadProperties)
      // (naver/ngrinder ngrinder-3.5.9-p1-20240613, ngrinder-core/src/main/java/org/ngrinder/NGrinderAgentStarterParam.java).
      argv: [`${AGENT_DIR}/run_agent.sh`, '-ch', ctx.master.address, '-cp', String(NGRINDER_PORTS.agentController)],
      env: { ...JAVA_ENV, HOME: AGENT_HOME },
      workDir: AGENT_DIR,
      processPattern: 'org\\.ngrinder\\.NGrinderAgentStarter',
      user: USER,
    },
  ];
}

function versionScript(): string {
  return `cat ${OPT}/ngrinder/VERSION 2>/dev/null || true\n`;
}

/**
 * Agent: reaches controller:16001 (checked from the agent, the side that connects). Controller: every
 * agent holds an established connection to 16001 (`ss`, no credentials needed).
 */
function checks(ctx: DoctorContext): readonly HostCheck[] {
  if (ctx.role === 'agent') {
    if (!ctx.master) return [{ name: 'agent reaches the controller', script: 'echo "FAIL no controller address in the env outputs"\n' }];
    return [{ name: 'agent reaches the controller', script: tcpReachScript('nGrinder agent port', [{ name: 'controller', ip: ctx.master.address, port: NGRINDER_PORTS.agentController }]) }];
  }
  if (ctx.role !== 'controller') return [];
  const agents = ctx.agents.map((a) => `${a.name}=${a.privateIp}`).join(' ');
  const script = [
    `peers=$(ss -Htn state established '( sport = :${NGRINDER_PORTS.agentController} )' | awk '{print $NF}' | sed -e 's/:[0-9]*$//' -e 's/^\\[::ffff://' -e 's/\\]$//' | sort -u)`,
    'missing=""',
    `for e in ${agents}; do ip=\${e#*=}; printf '%s\\n' "$peers" | grep -qx "$ip" || missing="$missing \${e%%=*}"; done`,
    `if [ -n "$missing" ]; then echo "FAIL agents not connected to port ${NGRINDER_PORTS.agentController}:$missing"; else echo "ok ${ctx.agents.length} agent(s) connected to port ${NGRINDER_PORTS.agentController}"; fi`,
    '',
  ].join('\n');
  return [{ name: 'controller sees every agent', script }];
}

/** The description for a pins file (the real one below; tests pass one with a fixture checksum for the war). */
export function ngrinderFor(pins: EnginePins): EngineSpec {
  return {
    name: 'ngrinder',
    defaultVersion: pins.default,
    versions: pins.versions,
    localUnsupported: 'nGrinder runs on EC2 only: it is not obtainable on this machine',
    roles: ['controller', 'agent'],
    installScript: (ctx) => installScript(pins, ctx),
    services,
    versionScript,
    checks,
    secret: {
      role: 'controller',
      file: NGRINDER_ADMIN_PASSWORD_FILE,
      what: 'nGrinder admin password',
      generate: (random) => ngrinderPasswordFrom(random),
      applyScript: (password, storedAt) => ngrinderAdminPasswordScript({ password, passwordFile: storedAt }),
    },
  };
}

export const ngrinder: EngineSpec = ngrinderFor(NGRINDER_PINS);


/**
 * A password from random bytes (pass crypto.randomBytes(32)): letters and digits only, so it needs no
 * quoting anywhere (curl config, form encoding, the file). Rejection sampling keeps it unbiased.
 */
export function ngrinderPasswordFrom(random: Uint8Array, length = 24): string {
  let out = '';
  for (const b of random) {
    if (b >= 248) continue; // 248 = 62 * 4: larger bytes would favour the first letters
    out += ALPHABET[b % 62];
    if (out.length === length) return out;
  }
  throw new Error(`ngrinderPasswordFrom needs more random bytes (got ${random.length} for ${length} characters)`);
}

/**
 * The remote step (run as root on the controller, after its service started) that makes sure
 * admin/admin does not survive: waits for the controller, then
 * - admin already has `password` → nothing to do;
 * - admin still has the default → sets `password` and checks it works;
 * - neither → fails, saying how to recover (the stored password and the controller disagree).
 * The seeded user/user, superuser/superuser and system/system logins get a random password nobody keeps.
 * Credentials reach curl on its stdin (`-K -`), never on a command line another process could read.
 * Prints "changed …" per change, like every install step.
 */
export function ngrinderAdminPasswordScript(opts: { readonly password: string; readonly passwordFile: string; readonly uiPort?: number; readonly waitTries?: number; readonly waitDelayS?: number }): string {
  if (!PASSWORD_RE.test(opts.password)) throw new Error('the nGrinder admin password must be 20-64 letters and digits (use ngrinderPasswordFrom)');
  const base = `http://127.0.0.1:${opts.uiPort ?? NGRINDER_PORTS.ui}`;
  const tries = opts.waitTries ?? 60;
  const delay = opts.waitDelayS ?? 5;
  return [
    'set -eu',
    'fail() { echo "ngrinder admin password: $*" >&2; exit 1; }',
    `base=${base}`,
    `pw=${shQuote(opts.password)}`,
    // The first start unpacks the war and creates the database: it takes a while.
    'i=0',
    'until curl -fsS -o /dev/null --max-time 5 "$base/check/healthcheck"; do',
    '  i=$((i + 1))',
    `  [ "$i" -lt ${tries} ] || fail "the controller does not answer on $base/check/healthcheck after ${tries * delay} s (journalctl -u ${CONTROLLER_UNIT})"`,
    `  sleep ${delay}`,
    'done',
    "status() { printf 'user = \"%s:%s\"\\n' \"$1\" \"$2\" | curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -K - \"$base/user/api/profile\"; }",
    "setpw() { printf 'user = \"admin:%s\"\\ndata-urlencode = \"password=%s\"\\n' \"$1\" \"$3\" | curl -sS -o /dev/null -w '%{http_code}' --max-time 20 -K - -X PUT \"$base/user/api/$2\"; }",
    'if [ "$(status admin "$pw")" = 200 ]; then',
    '  :',
    'elif [ "$(status admin admin)" = 200 ]; then',
    '  [ "$(setpw admin admin "$pw")" = 200 ] || fail "the controller refused PUT /user/api/admin"',
    '  [ "$(status admin "$pw")" = 200 ] || fail "the new admin password does not work after PUT /user/api/admin"',
    '  [ "$(status admin admin)" != 200 ] || fail "admin/admin still works after the change"',
    `  echo "changed ngrinder admin password (kept in ${opts.passwordFile})"`,
    'else',
    `  fail "admin accepts neither the password in ${opts.passwordFile} nor the default: set it in the UI to the stored one, or restart the controller once with -Dcontroller.admin_password_reset=true and rerun install"`,
    'fi',
    'for u in user superuser system; do',
    '  if [ "$(status "$u" "$u")" = 200 ]; then',
    "    rnd=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)",
    '    [ "$(setpw "$pw" "$u" "$rnd")" = 200 ] || fail "the controller refused PUT /user/api/$u"',
    '    echo "changed ngrinder $u password (random, not kept: reset it as admin to use that account)"',
    '  fi',
    'done',
    'exit 0',
    '',
  ].join('\n');
}

/** What `run` needs: nGrinder runs tests through its controller (REST API), which keeps all results. */
export const ngrinderRunFacts = {
  /** REST API base as seen from the controller itself; HTTP Basic with admin and the stored password. */
  apiBase: `http://127.0.0.1:${NGRINDER_PORTS.ui}`,
  passwordFile: NGRINDER_ADMIN_PASSWORD_FILE,
  results: {
    controller: { dir: `${NGRINDER_HOME}/perftest`, files: 'one folder per test (…/<test id>/report: per-sample statistics and logs)', owner: USER },
    agent: { dir: `${AGENT_HOME}/.ngrinder_agent/log`, files: 'agent and worker logs only: statistics stream to the controller', owner: USER },
  } satisfies Record<string, RawResults>,
} as const;
