/**
 * JMeter's part of `run` that needs no host: checking a .jmx, the options loadfleet owns on the client's
 * command line, and the sh the driver (scripts/drivers/jmeter.ts) runs on the controller and the agents.
 * Pure text; the facts (paths, user, ports, flags) come from scripts/engines/jmeter.ts jmeterRunFacts.
 *
 * What the client does (JMeter.java runNonGui/ListenToTest, DistributedRunner in apache/jmeter): it prints
 * "Starting distributed test with remote engines:[…] @ <date> (<epoch ms>)" and, once every server was sent
 * the plan and told to run, "Remote engines have been started:{…}" (or "The following remote engines have
 * not started:[…]"). When every server reported testEnded it prints "Tidying up remote @ … (<epoch ms>)",
 * sends -X's exit to the servers, waits 5 s for listeners to close their files, generates the dashboard
 * (-e -o) and prints "... end of run". It listens for Shutdown / StopTestNow on the first free UDP port from
 * jmeterengine.nongui.port (4445) to 4455 ("Waiting for possible Shutdown/StopTestNow/HeapDump/ThreadDump
 * message on port N"), from the loopback address only: bin/shutdown.sh and bin/stoptest.sh send them.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { UsageError } from '../core/errors';
import { shQuote } from '../core/safe-text';
import { OPT } from '../engines/common';
import { jmeterHome, jmeterRunFacts } from '../engines/jmeter';
import { JMETER_LIVE_RESULTS_PROPERTIES } from '../monitoring/engine-metrics';

// ---- the plan ----

interface XmlNode {
  [tag: string]: XmlNode[] | Record<string, string> | string;
}

/** Where a load thread group is: a tag whose last dotted part ends in ThreadGroup (core and plugin ones). */
const THREAD_GROUP = /(^|\.)[A-Za-z]*ThreadGroup$/;
/** setUp/tearDown groups run once around the test: they make no load. */
const NOT_LOAD = new Set(['SetupThreadGroup', 'PostThreadGroup']);

/** The load properties `run` sends with -G (scripts/run/load.ts jmeterProps) and how a plan reads them. */
export const JMETER_LOAD_PROPERTIES = [
  { name: 'threads', field: 'Number of Threads (users)', example: '${__P(threads,1)}' },
  { name: 'rampup', field: 'Ramp-up period (seconds)', example: '${__P(rampup,1)}' },
  { name: 'duration', field: 'Duration (seconds), with "Specify Thread lifetime" ticked', example: '${__P(duration,60)}' },
] as const;

export interface JmxCheck {
  /** Enabled load thread groups, by tag ("ThreadGroup", "kg.apc.jmeter.threads.UltimateThreadGroup"). */
  readonly threadGroups: readonly string[];
  /** Load properties the plan never reads (then --users/--duration… have no effect). */
  readonly unread: readonly string[];
  readonly readsSchedule: boolean;
}

const reads = (text: string, prop: string) => new RegExp(`\\$\\{__(?:P|property)\\(\\s*${prop}\\s*[,)]`).test(text);

/**
 * A .jmx JMeter can load: well-formed XML, root `jmeterTestPlan`, at least one enabled load thread group.
 * Throws UsageError with the parser's words; returns what the caller should warn about.
 */
export function checkJmx(file: string, text: string): JmxCheck {
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new UsageError(`--script (${file}) is not a JMeter plan: it is not well-formed XML (line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg})`);
  }
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true }).parse(text) as XmlNode[];
  const tagOf = (n: XmlNode) => Object.keys(n).find((k) => k !== ':@' && k !== '#text' && !k.startsWith('?'));
  const root = doc.find((n) => tagOf(n) !== undefined);
  const rootTag = root && tagOf(root);
  if (rootTag !== 'jmeterTestPlan') {
    throw new UsageError(`--script (${file}) is not a JMeter plan: its root element is <${rootTag ?? 'none'}>, not <jmeterTestPlan> (save the plan from JMeter as .jmx)`);
  }
  const groups: string[] = [];
  const walk = (nodes: XmlNode[]) => {
    for (const n of nodes) {
      const tag = tagOf(n);
      if (!tag) continue;
      const attrs = (n[':@'] ?? {}) as Record<string, string>;
      // JMeter drops a disabled element with everything under it: its hashTree is the next sibling,
      // and what is inside a disabled group is not load either (checked loosely: the group itself).
      if (attrs.enabled === 'false') continue;
      if (THREAD_GROUP.test(tag) && !NOT_LOAD.has(tag)) groups.push(tag);
      const kids = n[tag];
      if (Array.isArray(kids)) walk(kids);
    }
  };
  walk(root![rootTag] as XmlNode[]);
  if (groups.length === 0) {
    throw new UsageError(`--script (${file}) has no enabled Thread Group: JMeter would start no users (add a Thread Group to the Test Plan, or enable the one there)`);
  }
  return { threadGroups: groups, unread: JMETER_LOAD_PROPERTIES.filter((p) => !reads(text, p.name)).map((p) => p.name), readsSchedule: reads(text, 'threads_schedule') };
}

/** The warning for a plan that ignores some load properties (empty when it reads them all). */
export function unreadWarning(file: string, unread: readonly string[]): string {
  if (unread.length === 0) return '';
  const how = JMETER_LOAD_PROPERTIES.filter((p) => unread.includes(p.name)).map((p) => `${p.field} = ${p.example}`).join('; ');
  return `warning: ${file} does not read ${unread.map((u) => `\${__P(${u})}`).join(', ')}: --users/--rate/--duration set those properties with -G on every server, so they have no effect on this plan. In its Thread Group set ${how}.\n`;
}

// ---- options after `--` ----

/** Short options `run` sets itself (JMeter.java's CLOptionDescriptors) and why a user's one cannot work. */
const OWNED: Record<string, string> = {
  n: 'run always uses non-GUI mode',
  t: 'the plan is --script',
  R: 'run sends the plan to every agent of the env',
  r: 'run sends the plan to every agent of the env',
  X: 'run exits the servers at the end (their services restart them)',
  l: 'run writes the one merged JTL it reads back',
  e: 'run generates the dashboard and pulls it',
  o: 'run generates the dashboard into its own folder',
  q: 'run adds the installed properties file; a file of yours would not exist on the controller (use -J/-G)',
  p: 'run relies on the installed jmeter.properties (use -J/-G to change one property)',
  s: 'server mode is what the agents\' services run',
  g: 'report-only mode runs no test',
  d: 'the JMeter home is the installed one',
  h: 'help prints and exits', '?': 'help prints and exits', v: 'version prints and exits',
  a: 'a proxy password on the command line shows in the controller\'s process list',
};

const LONG: Record<string, string> = {
  nongui: 'n', testfile: 't', remotestart: 'R', runremote: 'r', remoteexit: 'X', logfile: 'l',
  reportatendofloadtests: 'e', reportoutputfolder: 'o', addprop: 'q', propfile: 'p', server: 's',
  reportonly: 'g', homedir: 'd', help: 'h', version: 'v', password: 'a',
};

/**
 * How the servers send samples back (SampleSenderFactory: JMeterUtils.getPropDefault("mode", "StrippedBatch");
 * with sample_sender_client_configured=true, jmeter.properties' default, the client's setting is the one the
 * servers use). Statistical mode sends aggregated samples, so the JTL rows would not be one per request and
 * the merge would not be exact; Standard/Hold/Batch send response data too (heavy on RMI). run pins
 * StrippedBatch (every sample, response data stripped, in batches) and refuses any setting of these.
 */
const SAMPLE_SENDER_PROPS = new Set(['mode', 'sample_sender_client_configured']);

/** The load properties run sends with -G (scripts/run/load.ts jmeterProps): a user's would replace the load. */
const LOAD_PROPS = new Set([...JMETER_LOAD_PROPERTIES.map((p) => p.name), 'threads_schedule']);

/**
 * The engine options given after `--`, checked: UsageError naming the first option loadfleet owns.
 * -J/-G/-D (properties other than run's own), -L, -H/-P/-N/-u (proxy), -j, -i, -f, -S and others pass through.
 */
export function checkJmeterPassthrough(args: readonly string[]): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let letter: string | undefined;
    let rest = '';
    if (a.startsWith('--')) {
      const name = a.slice(2).split('=')[0]!;
      letter = LONG[name];
      if (!letter && ['jmeterproperty', 'globalproperty', 'systemproperty'].includes(name)) {
        letter = name === 'jmeterproperty' ? 'J' : name === 'globalproperty' ? 'G' : 'D';
        rest = a.includes('=') ? a.slice(a.indexOf('=') + 1) : (args[i + 1] ?? '');
      }
    } else if (a.startsWith('-') && a.length > 1) {
      letter = a[1]!;
      rest = a.length > 2 ? a.slice(2) : (args[i + 1] ?? '');
    }
    if (letter === undefined) continue;
    const why = OWNED[letter];
    if (why) throw new UsageError(`the JMeter option ${a} cannot be passed after --: ${why}`);
    if (letter !== 'J' && letter !== 'G' && letter !== 'D') continue;
    // Pinned after loadfleet's own options, a user's setting would win (the last -J of a name does): refused.
    const key = rest.split('=')[0]!.trim();
    if (SAMPLE_SENDER_PROPS.has(key)) {
      throw new UsageError(`the JMeter option ${a} cannot be passed after --: run pins mode=StrippedBatch so every server sends every sample back and the JTL holds one row per request (another mode, such as Statistical, sends aggregated samples: the merge would not be exact)`);
    }
    if (letter !== 'D' && LOAD_PROPS.has(key)) {
      throw new UsageError(`the JMeter option ${a} cannot be passed after --: run sets the load property ${key} on every server from --users/--rate/--duration/--stages (use those; yours would silently replace the load)`);
    }
    if (PINNED_PROPS.has(key)) throw new UsageError(`the JMeter option ${a} cannot be passed after --: run reads the JTL and the summary lines in the form it sets (${key})`);
  }
}

// ---- the client and its files on the controller ----

/** Sizes and waits of a JMeter run (tests shrink the waits). */
export const JMETER_RUN = {
  user: jmeterRunFacts.results.controller.owner,
  runsDir: jmeterRunFacts.results.controller.dir,
  /** Written by install (scripts/engines/jmeter.ts): the version whose tree the launcher is in. */
  versionFile: `${OPT}/jmeter/VERSION`,
  /** Rows of the JTL's tail read each tick for the live percentiles, and the window they cover. */
  tailRows: 20_000,
  /** The Summariser's last lines read each tick (its `=` line carries the totals; `+` lines follow it). */
  summaryLines: 400,
  liveWindowS: 10,
  /** The client's JVM, plan transfer and the 5 s listener wait around the test itself. */
  clientOverheadS: 120,
  /** Dashboard generation after the test (JMeter reads the whole JTL again). */
  dashboardS: 600,
  /** Bytes of the gzipped JTL pulled per SSH call (base64 on stdout). */
  chunkBytes: 8 * 1024 * 1024,
  /** stop(): how often the client is looked at, how long StopTestNow gets, and the dashboard's wait after a Ctrl-C. */
  stopPollMs: 1000,
  stopNowWaitMs: 10_000,
  interruptedDashboardMs: 60_000,
  /** prepare(): how long a jmeter-server may take to come back (its service restarts it after a run's -X). */
  serverBackMs: 30_000,
};

export function jmeterRunDir(runId: string): string {
  return `${JMETER_RUN.runsDir}/${runId}`;
}

/**
 * Properties for the client only (-J): the JTL in the form JtlMerge reads whatever the controller's
 * user.properties says, and a Summariser line every ~5 s (default 30) for live progress.
 */
export const jmeterClientProps: readonly string[] = [
  // Every sample back from every server (see SAMPLE_SENDER_PROPS), whatever the installed properties say.
  '-Jmode=StrippedBatch',
  // The live results (issue 16.9): CSV, ms timestamps, and autoflush — apache/jmeter rel/v5.6.3 ResultCollector.java
  // opens the results file as PrintWriter(BufferedOutputStream, SAVING_AUTOFLUSH) and CSVSaveService.saveSampleResult
  // println()s each row, so without autoflush (default false, bin/jmeter.properties) the tail `run` reads every tick
  // for the live percentiles (jmeterStatusScript) lags by a buffer; with it, every sample is in the file at once. Those
  // live figures reach Prometheus through the run's textfile metrics (scripts/monitoring/run-metrics.ts).
  ...Object.entries(JMETER_LIVE_RESULTS_PROPERTIES).map(([k, v]) => `-J${k}=${v}`),
  '-Jjmeter.save.saveservice.print_field_names=true',
  '-Jjmeter.save.saveservice.default_delimiter=,',
  '-Jjmeter.save.saveservice.thread_name=true',
  // The columns the merge needs: a JTL without one is unreadable (JtlMerge), and the Transaction
  // Controller's own rows are told apart by their responseMessage (scripts/run/jtl.ts TRANSACTION_PREFIX).
  '-Jjmeter.save.saveservice.time=true',
  '-Jjmeter.save.saveservice.label=true',
  '-Jjmeter.save.saveservice.successful=true',
  '-Jjmeter.save.saveservice.response_message=true',
  '-Jsummariser.name=summary',
  '-Jsummariser.out=true',
  '-Jsummariser.interval=5',
];

/** Every property run pins on the client (jmeterClientProps): a user's -J/-G/-D of one is refused. */
const PINNED_PROPS = new Set(jmeterClientProps.map((a) => a.slice(2).split('=')[0]!));

/** sh (root) on the controller: the installed version, the run folder owned by the jmeter user, the plan in it. */
export function jmeterPrepareScript(runDir: string, planText: string): string {
  const b64 = Buffer.from(planText).toString('base64');
  const bin = jmeterRunFacts.bin('$v');
  return [
    'set -eu',
    `v=$(cat ${JMETER_RUN.versionFile} 2>/dev/null || true)`,
    `if [ -z "$v" ] || [ ! -x "${bin}" ]; then echo "JMeter is not installed on this host (${JMETER_RUN.versionFile} or the launcher is missing)" >&2; exit 42; fi`,
    `mkdir -p ${shQuote(runDir)}`,
    `printf %s ${shQuote(b64)} | base64 -d > ${shQuote(`${runDir}/plan.jmx`)}`,
    `chmod 0644 ${shQuote(`${runDir}/plan.jmx`)}`,
    `chown -R ${JMETER_RUN.user}: ${shQuote(runDir)}`,
    'echo "version $v"',
    '',
  ].join('\n');
}

/** sh (root) on an agent: its jmeter-server service state, as `state <active|…>`. */
export function jmeterServerStateScript(): string {
  return 'printf "state %s\\n" "$(systemctl is-active jmeter-server.service 2>/dev/null || true)"\n';
}

/** sh (root) on an agent: restart its jmeter-server (a server whose client died without -X keeps its test). */
export function jmeterServerRestartScript(): string {
  return 'systemctl restart jmeter-server.service\n';
}

/**
 * sh (root) on the controller: the client as the jmeter user in its own session (setsid: one process
 * group to signal), under `timeout` so it ends even if loadfleet dies, stdout+stderr to client.out.
 * Writes `$!` to client.pid and prints `pid N` (the session's leader: setsid, nohup and timeout exec in
 * turn, so N is timeout's pid and the group's id; GNU timeout keeps its child in its own group, this one).
 */
export function jmeterStartScript(o: { runDir: string; argv: readonly string[]; timeoutS: number }): string {
  const java = jmeterRunFacts.javaHome;
  const inner = ['runuser', '-u', JMETER_RUN.user, '--', 'env', `JAVA_HOME=${java}`, `PATH=${java}/bin:/usr/local/bin:/usr/bin:/bin`, ...o.argv].map(shQuote).join(' ');
  return [
    'set -eu',
    `cd ${shQuote(o.runDir)}`,
    'rm -f client.out client.pid res.jtl',
    `setsid nohup timeout -k 30 ${Math.ceil(o.timeoutS)} ${inner} > client.out 2>&1 < /dev/null &`,
    // First in the run folder: a start whose output is lost still leaves stop() the group to end.
    'echo "$!" > client.pid',
    'echo "pid $!"',
    '',
  ].join('\n');
}

/**
 * The run's one-time milestone lines in client.out that status() returns, ALL of them: the Summariser writes
 * two lines every 5 s, so a tail over both would lose "Remote engines have been started" and the UDP port
 * line after ~17 min (then stop() could not ask the client to shut down). Only the Summariser's are tailed.
 */
const MILESTONE_LINES = "^(Tidying up|Remote engines have been started|The following remote engines have not started|Following remote engines could not be configured|Waiting for possible |Starting distributed test|Error in NonGUIDriver|An error occurred|\\.\\.\\. end of run)";

/** sh (root) on the controller: the client's pid the start script wrote (empty when it spawned nothing). */
export function jmeterPidScript(runDir: string): string {
  return `cat ${shQuote(`${runDir}/client.pid`)} 2>/dev/null || true\n`;
}

/**
 * sh (root) on the controller, each tick: whether the client lives, every milestone line and the last
 * summaryLines Summariser lines, the live percentiles (nearest rank) of the samples that started in the last liveWindowS seconds among
 * the JTL's last tailRows rows (timeStamp and elapsed are the first two fields and never quoted), and
 * per agent how many of those rows its threads wrote (`seen <remote> <n>`).
 */
export function jmeterStatusScript(o: { runDir: string; pid: number; remotes: readonly string[] }): string {
  const pct = (p: number) => `pct(${p})`;
  return [
    `cd ${shQuote(o.runDir)} 2>/dev/null || { echo "state gone"; exit 0; }`,
    `if [ "$(cat /proc/${o.pid}/comm 2>/dev/null)" = timeout ]; then echo "state alive"; else echo "state exited"; fi`,
    `grep -E '${MILESTONE_LINES}' client.out 2>/dev/null | sed 's/^/out /'`,
    `grep -E '^summary [+=] ' client.out 2>/dev/null | tail -n ${JMETER_RUN.summaryLines} | sed 's/^/out /'`,
    't=$(mktemp)',
    `tail -n ${JMETER_RUN.tailRows} res.jtl 2>/dev/null > "$t" || true`,
    `since=$(( $(date +%s) * 1000 - ${JMETER_RUN.liveWindowS * 1000} ))`,
    `awk -F, -v since="$since" '/^[0-9]+,[0-9]+,/ && $1 >= since { print $2 }' "$t" | sort -n | awk 'function pct(p,  i) { i = int(p * NR / 100); if (i < p * NR / 100) i++; if (i < 1) i = 1; return v[i] } { v[NR] = $1 } END { if (NR) print "window", NR, ${pct(50)}, ${pct(95)}, ${pct(99)}; else print "window 0 0 0 0" }'`,
    // The thread name follows a comma, or a quote when JMeter quoted it (a group name with a comma in it).
    ...o.remotes.map((r) => `printf 'seen %s %s\\n' ${shQuote(r)} "$(grep -c -F -e ${shQuote(`,${r}-`)} -e ${shQuote(`,"${r}-`)} "$t" || true)"`),
    'rm -f "$t"',
    '',
  ].join('\n');
}

/**
 * sh (root) on the controller: JMeter's own bin/shutdown.sh (graceful: threads finish their sample) or
 * bin/stoptest.sh (now). Both run the launcher's org.apache.jmeter.util.ShutdownClient `<command> [port]`,
 * which sends the command in ASCII to localhost:port over UDP (the client accepts loopback senders only).
 */
export function jmeterSignalScript(version: string, port: number, how: 'Shutdown' | 'StopTestNow'): string {
  const script = `${jmeterHome(version)}/bin/${how === 'Shutdown' ? 'shutdown.sh' : 'stoptest.sh'}`;
  const java = jmeterRunFacts.javaHome;
  return `JAVA_HOME=${java} PATH=${java}/bin:/usr/bin:/bin timeout 30 sh ${shQuote(script)} ${port} >/dev/null 2>&1 || true\n`;
}

/** sh (root): TERM to the client's whole process group, KILL to what is left after 5 s. */
export function jmeterKillScript(pid: number): string {
  // Only while the pid is still the client's `timeout` wrapper (a reused pid is somebody else's process group).
  return `[ "$(cat /proc/${pid}/comm 2>/dev/null)" = timeout ] || exit 0; kill -TERM -${pid} 2>/dev/null || true; i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -${pid} 2>/dev/null || true\n`;
}

/**
 * sh (root) on the controller after the client ended: gzip the JTL (fast level: it is pulled once) and
 * tar the dashboard, then print `jtl <bytes> <sha256>` and `dashboard <bytes>` (0 when there is none).
 */
export function jmeterPackScript(runDir: string): string {
  return [
    'set -eu',
    `cd ${shQuote(runDir)}`,
    '[ -f res.jtl ] || { echo "the client wrote no res.jtl (see client.out on the controller)" >&2; exit 3; }',
    'gzip -1 -c res.jtl > res.jtl.gz',
    'printf "jtl %s %s\\n" "$(stat -c %s res.jtl.gz)" "$(sha256sum res.jtl.gz | cut -d" " -f1)"',
    'if [ -d dashboard ]; then tar -czf dashboard.tgz dashboard; printf "dashboard %s\\n" "$(stat -c %s dashboard.tgz)"; else echo "dashboard 0"; fi',
    '',
  ].join('\n');
}

/** sh (root): one chunk of a file, base64 on one line (stdout is text). */
export function jmeterChunkScript(file: string, index: number): string {
  return `dd if=${shQuote(file)} bs=${JMETER_RUN.chunkBytes} skip=${index} count=1 2>/dev/null | base64 -w0\n`;
}

/** sh (root): the client's stdout and log tails, for rawDir. */
export function jmeterLogsScript(runDir: string): string {
  return `cd ${shQuote(runDir)} 2>/dev/null || exit 0\necho '== client.out'; tail -n 2000 client.out 2>/dev/null || true\necho '== jmeter.log'; tail -n 2000 jmeter.log 2>/dev/null || true\n`;
}

/** The client's UDP command port from its "Waiting for possible …" line; JMeter's default 4445 otherwise. */
export function jmeterUdpPort(clientText: string): number {
  const m = /Waiting for possible Shutdown\/StopTestNow\/HeapDump\/ThreadDump message on port (\d+)/.exec(clientText);
  return m ? Number(m[1]) : 4445;
}

/** "Remote engines have been started" seen; the epoch ms JMeter printed with "Starting distributed test". */
export function jmeterStarted(clientText: string): { started: boolean; atMs: number | null; notStarted: string | null; failure: string | null } {
  const at = /Starting distributed test with remote engines:.* \((\d{10,})\)/.exec(clientText);
  const notStarted = /The following remote engines have not started:\s*(\[.*\])/.exec(clientText)?.[1] ?? null;
  const failure = /(Error in NonGUIDriver.*|Following remote engines could not be configured:.*|An error occurred:.*)/.exec(clientText)?.[1] ?? null;
  return { started: /Remote engines have been started/.test(clientText), atMs: at ? Number(at[1]) : null, notStarted, failure };
}

/** The test itself is over (every server ended); the client may still be writing the dashboard. */
export function jmeterTestEnded(clientText: string): boolean {
  return /Tidying up remote @|\.\.\. end of run/.test(clientText);
}
