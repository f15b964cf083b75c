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
 *   `<epoch ms> <machine busy ticks> <machine total ticks> <run queue> <tcp sockets in use> <busiest process % of one core> <its name>`
 * Machine ticks come from /proc/stat (the whole machine); the busiest process is measured over this
 * host's own /proc (its PID namespace on the local target, the instance on EC2). Both matter: a
 * single-threaded engine (a Locust worker, Node for Artillery) is saturated at one core even when the
 * machine looks idle. Stopped by PID; `exec` makes that PID awk's, so one kill ends it.
 */
export function samplerScript(intervalS = 1): string {
  return `exec awk -v hz="$(getconf CLK_TCK)" -v iv=${intervalS} '
function now(  c, t) { c = "date +%s%3N"; c | getline t; close(c); return t }
function procs(  c, line, f, pid, n, s, tk, i) {
  delete cur; delete name
  c = "cat /proc/[0-9]*/stat 2>/dev/null"
  while ((c | getline line) > 0) {
    # comm is in parentheses and may hold spaces: split around the last ")"
    i = match(line, /\\) [A-Za-z] /); if (!i) continue
    pid = substr(line, 1, index(line, " ") - 1)
    s = substr(line, i + 2); n = split(s, f, " ")
    tk = f[12] + f[13]
    cur[pid] = tk; name[pid] = substr(line, index(line, "(") + 1, i - index(line, "(") - 1)
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
    procs()
    top = 0; topn = "-"
    if (pt != "") for (p in cur) if (p in prev) {
      pct = (cur[p] - prev[p]) / hz / ((t - pt) / 1000) * 100
      if (pct > top) { top = pct; topn = name[p] }
    }
    delete prev; for (p in cur) prev[p] = cur[p]; pt = t
    gsub(/ /, "_", topn)
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
  /** The busiest process on this host, % of one core. */
  readonly topProcessPct: number;
  readonly topProcess: string;
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
      topProcessPct: top,
      topProcess: f[6]!,
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
  readonly busiestProcess: string;
  readonly maxRunQueue: number;
  readonly maxTcpSockets: number;
  readonly bound: boolean;
  readonly reason?: string;
}

/**
 * The rule: a host is generator-bound when its CPU stayed above 85 % for more than 10 s in a row.
 * "Its CPU" is the machine's share when the host is a machine (`machineIsHost`: EC2), and on every
 * kind of host the busiest process's share of one core (a single-threaded engine's ceiling).
 */
export function judgeHost(host: string, role: 'controller' | 'agent', samples: readonly CpuSample[], machineIsHost: boolean): HostSaturation {
  let longest = 0;
  let runStart: number | undefined;
  let max = 0;
  let busiest = '-';
  let busiestPct = 0;
  for (const s of samples) {
    const pct = Math.max(machineIsHost ? s.machinePct ?? 0 : 0, s.topProcessPct);
    max = Math.max(max, pct);
    if (s.topProcessPct > busiestPct) {
      busiestPct = s.topProcessPct;
      busiest = s.topProcess;
    }
    if (pct > GENERATOR_BOUND.cpuPct) {
      runStart ??= s.atMs;
      // A stretch counts from the sample before it went over: each sample covers the second before it.
      longest = Math.max(longest, (s.atMs - runStart) / 1000 + 1);
    } else runStart = undefined;
  }
  const bound = longest > GENERATOR_BOUND.seconds;
  return {
    host,
    role,
    secondsAbove: Math.round(longest * 10) / 10,
    maxCpuPct: Math.round(max * 10) / 10,
    busiestProcess: busiest,
    maxRunQueue: Math.max(0, ...samples.map((s) => s.runQueue)),
    maxTcpSockets: Math.max(0, ...samples.map((s) => s.tcpSockets)),
    bound,
    ...(bound ? { reason: `CPU above ${GENERATOR_BOUND.cpuPct} % for ${Math.round(longest)} s (peak ${Math.round(max)} %, busiest process ${busiest})` } : {}),
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

/** `ethtool -S eth0` → the ENA allowance counters it has (other drivers have none: empty). */
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
