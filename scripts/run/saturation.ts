/**
 * Was the load asked for the load that was made? A generator whose CPU is saturated, or whose network
 * allowance (EC2 ENA counters) was exceeded, caps the load silently. This file holds the sampler that runs
 * on every host during a run (plain sh + awk, nothing to install), the parsers of what it and
 * `ethtool -S` print, and the rule. Pure text and arithmetic.
 */

/** Above this CPU share for longer than GENERATOR_BOUND.seconds, a host is generator-bound. */
export const GENERATOR_BOUND = { cpuPct: 85, seconds: 10 } as const;

/**
 * One line per second until killed:
 *   `<epoch ms> <machine busy ticks> <machine total ticks> <run queue> <tcp sockets in use> <busiest thread's demand, % of one core> <its name>`
 * Machine ticks come from /proc/stat (the whole machine). A thread's demand is the share of the second it
 * was runnable — on a CPU or waiting for one (/proc/<pid>/task/<tid>/schedstat) — over this host's own
 * /proc (its PID namespace on the local target, the instance on EC2). Demand, not use: a generator
 * thread starved of CPU (a busy machine, steal time) wanted a whole core and got less, which caps its
 * load as surely as a full core does; and a single-threaded engine (a Locust worker, Artillery's Node
 * workers) is saturated at one core even when the machine looks idle. `exec` makes the PID awk's, so
 * one kill ends it.
 */
export function samplerScript(intervalS = 1): string {
  return `exec awk -v iv=${intervalS} '
function now(  c, t) { c = "date +%s%3N"; c | getline t; close(c); return t }
function threads(  c, d, s, f, nm) {
  delete cur; delete name
  c = "ls -d /proc/[0-9]*/task/[0-9]* 2>/dev/null"
  while ((c | getline d) > 0) {
    if ((getline s < (d "/schedstat")) > 0) {
      split(s, f, " "); cur[d] = f[1] + f[2]
      nm = "-"; getline nm < (d "/comm"); close(d "/comm"); name[d] = nm
    }
    close(d "/schedstat")
  }
  close(c)
}
BEGIN {
  while (1) {
    t = now()
    getline l < "/proc/stat"; close("/proc/stat"); split(l, c, " ")
    busy = c[2] + c[3] + c[4] + c[7] + c[8] + c[9]; total = busy + c[5] + c[6]
    getline la < "/proc/loadavg"; close("/proc/loadavg"); split(la, a, " "); split(a[4], q, "/")
    tcp = 0
    while ((getline s < "/proc/net/sockstat") > 0) if (s ~ /^TCP:/) { split(s, x, " "); tcp = x[3] }
    close("/proc/net/sockstat")
    threads()
    top = 0; topn = "-"
    if (pt != "") for (p in cur) if (p in prev) {
      pct = (cur[p] - prev[p]) / 1e6 / (t - pt) * 100
      if (pct > top) { top = pct; topn = name[p] }
    }
    delete prev; for (p in cur) prev[p] = cur[p]; pt = t
    if (top > 100) top = 100
    gsub(/[^A-Za-z0-9_.:@-]/, "_", topn)
    printf "%s %d %d %d %d %.1f %s\\n", t, busy, total, q[1] - 1, tcp, top, topn
    fflush()
    system("sleep " iv)
  }
}'`;
}

export interface CpuSample {
  readonly atMs: number;
  /** Machine-wide busy share over the interval before this sample, % (null for the first). */
  readonly machinePct: number | null;
  /** The busiest thread on this host: share of the interval it was runnable (on a CPU or waiting for one), %. */
  readonly topThreadPct: number;
  readonly topThread: string;
  readonly runQueue: number;
  readonly tcpSockets: number;
}

/** The sampler's output → samples (a torn last line from a killed sampler is ignored). */
export function parseSamples(text: string): CpuSample[] {
  const out: CpuSample[] = [];
  let prev: { busy: number; total: number } | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7 || f.slice(0, 6).some((x) => !Number.isFinite(Number(x)))) continue;
    const [t, busy, total, rq, tcp, top] = f.slice(0, 6).map(Number) as [number, number, number, number, number, number];
    const dt = prev ? total - prev.total : 0;
    out.push({
      atMs: t,
      machinePct: prev && dt > 0 ? Math.round(((busy - prev.busy) / dt) * 1000) / 10 : null,
      topThreadPct: top,
      topThread: f[6]!,
      runQueue: Math.max(0, rq),
      tcpSockets: tcp,
    });
    prev = { busy, total };
  }
  return out;
}

export interface HostSaturation {
  readonly host: string;
  readonly role: 'controller' | 'agent';
  /** Longest continuous stretch above the limit, seconds. */
  readonly secondsAbove: number;
  readonly maxCpuPct: number;
  readonly busiestThread: string;
  readonly maxRunQueue: number;
  readonly maxTcpSockets: number;
  /** null = unknown: the samples do not cover the run (a sampler that died or was late); never read as "not bound". */
  readonly bound: boolean | null;
  readonly reason?: string;
}

/** How far the samples may sit from the run's ends, and apart: the sampler prints one line a second. */
export const SAMPLE_COVERAGE = { edgeMs: 2500, gapMs: 3500 } as const;

/**
 * Why the samples do not cover the window (release → stop), or null when they do: one a second from
 * before the release (or within SAMPLE_COVERAGE.edgeMs after it) to the stop, no gap longer than
 * SAMPLE_COVERAGE.gapMs. A sampler that died mid-run leaves a short file, which is not "not bound".
 */
export function samplesMissing(samples: readonly CpuSample[], window: { fromMs: number; toMs: number }): string | null {
  const span = Math.max(0, window.toMs - window.fromMs);
  const expected = Math.max(1, Math.round(span / 1000));
  const inWindow = samples.filter((s) => s.atMs >= window.fromMs - SAMPLE_COVERAGE.edgeMs && s.atMs <= window.toMs + SAMPLE_COVERAGE.edgeMs);
  const at = (ms: number) => `${Math.round((ms - window.fromMs) / 100) / 10} s`;
  const what = `${inWindow.length} samples over the run's ${Math.round(span / 100) / 10} s (about ${expected} expected)`;
  if (inWindow.length === 0) return `no CPU sample during the run: ${what}`;
  const first = inWindow[0]!.atMs;
  const last = inWindow[inWindow.length - 1]!.atMs;
  if (first > window.fromMs + SAMPLE_COVERAGE.edgeMs) return `the CPU samples start ${at(first)} after the release: ${what}`;
  if (last < window.toMs - SAMPLE_COVERAGE.edgeMs) return `the CPU samples stop at ${at(last)} of the run (the sampler died or stopped answering): ${what}`;
  for (let i = 1; i < inWindow.length; i++) {
    const gap = inWindow[i]!.atMs - inWindow[i - 1]!.atMs;
    if (gap > SAMPLE_COVERAGE.gapMs) return `no CPU sample for ${Math.round(gap / 100) / 10} s from ${at(inWindow[i - 1]!.atMs)}: ${what}`;
  }
  return null;
}

/**
 * The rule: a host is generator-bound when its CPU stayed above 85 % for more than 10 s in a row.
 * "Its CPU" is the machine's share when the host is a machine (`machineIsHost`: EC2), and on every
 * kind of host the busiest thread's demand for one core (see samplerScript).
 */
export function judgeHost(host: string, role: 'controller' | 'agent', samples: readonly CpuSample[], machineIsHost: boolean, window?: { fromMs: number; toMs: number }): HostSaturation {
  const missing = window && window.toMs > window.fromMs ? samplesMissing(samples, window) : null;
  let longest = 0;
  let runStart: number | undefined;
  let max = 0;
  let busiest = '-';
  let busiestPct = 0;
  for (const s of samples) {
    const pct = Math.max(machineIsHost ? s.machinePct ?? 0 : 0, s.topThreadPct);
    max = Math.max(max, pct);
    if (s.topThreadPct > busiestPct) {
      busiestPct = s.topThreadPct;
      busiest = s.topThread;
    }
    if (pct > GENERATOR_BOUND.cpuPct) {
      runStart ??= s.atMs;
      // A stretch counts from the sample before it went over: each sample covers the second before it.
      longest = Math.max(longest, (s.atMs - runStart) / 1000 + 1);
    } else runStart = undefined;
  }
  // Bound shows even in partial samples (a stretch was seen); only "not bound" needs the whole run.
  const bound = longest > GENERATOR_BOUND.seconds ? true : missing ? null : false;
  return {
    host,
    role,
    secondsAbove: Math.round(longest * 10) / 10,
    maxCpuPct: Math.round(max * 10) / 10,
    busiestThread: busiest,
    maxRunQueue: Math.max(0, ...samples.map((s) => s.runQueue)),
    maxTcpSockets: Math.max(0, ...samples.map((s) => s.tcpSockets)),
    bound,
    ...(bound ? { reason: `CPU above ${GENERATOR_BOUND.cpuPct} % for ${Math.round(longest)} s (peak ${Math.round(max)} %, busiest thread ${busiest})` } : {}),
    ...(bound === null ? { reason: `saturation unknown: ${missing}` } : {}),
  };
}

// ---- EC2 network allowances (ENA driver counters) ----

export const ENA_COUNTERS = [
  'bw_in_allowance_exceeded',
  'bw_out_allowance_exceeded',
  'pps_allowance_exceeded',
  'conntrack_allowance_exceeded',
  'linklocal_allowance_exceeded',
] as const;

/**
 * sh (root) printing the counters of the host's DEFAULT-ROUTE interface: `iface NAME` then its `ethtool -S`, or
 * one `gap REASON` line when they cannot be read. Never a fixed name: AL2023 has no eth0 (predictable names,
 * `ens5` on Nitro, `enX0` on Xen). The default route is read from /proc/net/route (destination and mask
 * 00000000), which needs no iproute2; with several, the first the kernel lists.
 */
export function netCountersScript(): string {
  return [
    `dev=$(awk '$2 == "00000000" && $8 == "00000000" { print $1; exit }' /proc/net/route 2>/dev/null)`,
    'if [ -z "$dev" ]; then echo "gap no default route (/proc/net/route has none), so no interface to read"',
    'elif ! command -v ethtool >/dev/null 2>&1; then echo "gap ethtool is not installed (the ENA counters are read with ethtool -S $dev)"',
    'elif ! out=$(ethtool -S "$dev" 2>&1); then echo "gap ethtool -S $dev failed: $(printf %s "$out" | head -n 1)"',
    'else echo "iface $dev"; printf \'%s\\n\' "$out"; fi',
  ].join('\n');
}

export interface NetCounters {
  /** The default-route interface read, when it was. */
  readonly iface?: string;
  /** Why nothing could be read (no default route, no ethtool, ethtool failed). */
  readonly gap?: string;
  /** `ethtool -S` text (empty with a gap). */
  readonly stats: string;
}

/** netCountersScript's output → the interface and its stats, or the gap. Old output (bare `ethtool -S` text) reads as stats. */
export function parseNetCounters(text: string): NetCounters {
  const gap = /^gap (.*)$/m.exec(text);
  if (gap) return { gap: gap[1]!.trim(), stats: '' };
  const iface = /^iface (\S+)$/m.exec(text);
  return iface ? { iface: iface[1]!, stats: text.slice(iface.index + iface[0].length) } : { stats: text };
}

/**
 * The network verdict of one host: counters that grew, and — where ENA counters are expected (EC2) — a gap when
 * they could not be read on either side or the interface has none (a driver other than ena): reported, never
 * silence, since "no flag" would otherwise read as "within allowances". Elsewhere (namespace hosts: a veth, often
 * no default route) their absence is normal and no gap.
 */
export function networkCheck(host: string, before: string, after: string, expectCounters: boolean): { flags: NetworkFlag[]; gap?: string } {
  const b = parseNetCounters(before);
  const a = parseNetCounters(after);
  const flags = networkFlags(host, b.stats, a.stats);
  if (!expectCounters) return { flags };
  const gap = b.gap ?? a.gap;
  if (gap) return { flags, gap: `ENA allowance counters unknown: ${gap}` };
  const missing = ENA_COUNTERS.filter((c) => !(c in parseEthtoolStats(b.stats)) || !(c in parseEthtoolStats(a.stats)));
  if (missing.length === ENA_COUNTERS.length) return { flags, gap: `ENA allowance counters unknown: ${b.iface ?? a.iface ?? 'the interface'} has none (not the ena driver?)` };
  return { flags };
}

/** `ethtool -S <iface>` → the ENA allowance counters it has (other drivers have none: empty). */
export function parseEthtoolStats(text: string): Partial<Record<(typeof ENA_COUNTERS)[number], number>> {
  const out: Partial<Record<(typeof ENA_COUNTERS)[number], number>> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z_]+):\s*(\d+)\s*$/.exec(line);
    if (m && (ENA_COUNTERS as readonly string[]).includes(m[1]!)) out[m[1] as (typeof ENA_COUNTERS)[number]] = Number(m[2]);
  }
  return out;
}

export interface NetworkFlag {
  readonly host: string;
  readonly counter: string;
  readonly increase: number;
}

/** Counters that grew between before and after; a counter missing on either side is skipped. */
export function networkFlags(host: string, before: string, after: string): NetworkFlag[] {
  const b = parseEthtoolStats(before);
  const a = parseEthtoolStats(after);
  return ENA_COUNTERS.flatMap((c) => {
    const x = b[c];
    const y = a[c];
    return x !== undefined && y !== undefined && y > x ? [{ host, counter: c, increase: y - x }] : [];
  });
}
