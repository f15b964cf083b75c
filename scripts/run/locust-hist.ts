/**
 * Locust's per-second latency histograms, for the hist/ a run keeps (scripts/compare/hlog.ts). Locust's own
 * merge keeps one bucketed histogram per endpoint for the whole run (2 significant digits above 100 ms) and only
 * percentiles per time: not what a comparison needs. So `run` appends this listener to the locustfile it pushes:
 * on each worker it counts every request Locust records (the `request` event: the same response_time Locust's
 * stats use) per epoch second and endpoint, latencies kept to 3 significant digits in µs; the counts travel to
 * the master in Locust's own worker reports (the `report_to_master` / `worker_report` events, every 3 s and the
 * settle wait of the driver's stop), where they are added; the master serves them at /loadfleet/hist.
 * Converted once, at collection, into HdrHistograms of 3 significant digits: precision 0.1 % of each value.
 *
 * A request without a response (refused, reset, timed out) is counted (a request, a failure) but its time is no
 * latency (issue 15): Locust's own stats record the time of a failed connect as the response time, and its
 * merged percentiles cannot be taken apart, so the run's latency figures come from these histograms
 * (locustLatencyFromHist), as Artillery, k6 and JMeter do through Merger.recordUnanswered.
 *
 * Events and their arguments as in locust 2.12.1 locust/event.py (request: request_type, name, response_time,
 * response_length, response, context, exception; report_to_master(client_id, data); worker_report(client_id,
 * data); init(environment, runner, web_ui)); the web UI's Flask app as in its docs/extending-locust.rst.
 */
import type { SecondCounts } from '../compare/hlog';
import { encode, figures, HDR, newHistogram, percentileLadder, type Histogram } from './histogram';
import type { EndpointStats, MergedStats } from './merge';

export const LOCUST_HIST_PRECISION =
  'Locust: every response time Locust recorded for a request that got a response (a refused, reset or timed-out request is counted, without a latency), counted per second and endpoint on the workers at their 3-digit HdrHistogram bucket (µs) and added on the master through its worker reports; kept as HdrHistograms of 3 significant digits (each latency within 0.1 %)';

export const LOCUST_HIST_PLUGIN = `

# ---- added by loadfleet run: per-second latency histograms for "loadfleet compare" ----
def _loadfleet_key(ms):
    # hdrKey of scripts/run/per-second.ts: the µs value floored to the sub-bucket a 3-digit HdrHistogram keeps it
    # in (its lowestEquivalentValue: exact below 2048 µs, then 1024 sub-buckets per power of two), so the kept
    # histogram holds each latency within its own 0.1 %. Rounded half up as JavaScript's Math.round.
    v = max(1, int(ms * 1000 + 0.5))
    if v < 2048:
        return v
    unit = 1 << (v.bit_length() - 11)
    return (v // unit) * unit


def _loadfleet_hist():
    import json, time
    from locust import events
    pending = {}
    merged = {}
    key = _loadfleet_key

    def answered(response, exception):
        # No response (refused, reset, timed out): Locust's HttpSession hands a LocustResponse with status_code 0
        # (clients.py _send_request_safe_mode), FastHttpSession an ErrorResponse with status_code 0
        # (contrib/fasthttp.py); a custom client without a response object passes None with the socket error
        # (an OSError: requests' exceptions and Python's ConnectionError/TimeoutError all are).
        if response is not None:
            return getattr(response, "status_code", None) != 0
        return not isinstance(exception, OSError)

    @events.request.add_listener
    def on_request(request_type=None, name=None, response_time=None, response=None, exception=None, **kw):
        cell = pending.setdefault(str(int(time.time())), {}).setdefault("%s %s" % (request_type, name), [0, 0, {}, 0])
        cell[0] += 1
        if exception is not None:
            cell[1] += 1
        if response_time is None or not answered(response, exception):
            # A request and a failure, never a latency: the time of a failed connect is not a response time.
            cell[3] += 1
            return
        u = str(key(response_time))
        cell[2][u] = cell[2].get(u, 0) + 1

    @events.report_to_master.add_listener
    def on_report(client_id, data, **kw):
        data["loadfleet_hist"] = dict(pending)
        pending.clear()

    @events.worker_report.add_listener
    def on_worker_report(client_id, data, **kw):
        for sec, eps in (data.get("loadfleet_hist") or {}).items():
            into = merged.setdefault(str(sec), {})
            for k, cell in eps.items():
                c = into.setdefault(k, [0, 0, {}, 0])
                c[0] += cell[0]
                c[1] += cell[1]
                for u, m in cell[2].items():
                    c[2][str(u)] = c[2].get(str(u), 0) + m
                c[3] += cell[3] if len(cell) > 3 else 0

    @events.init.add_listener
    def on_init(environment, **kw):
        if getattr(environment, "web_ui", None) is not None:
            @environment.web_ui.app.route("/loadfleet/hist")
            def loadfleet_hist():
                # ?since=EPOCH_S: only the seconds from there on (the live view reads its last seconds).
                from flask import request
                since = request.args.get("since", type=int)
                return json.dumps(merged if since is None else {k: v for k, v in merged.items() if int(k) >= since})


_loadfleet_hist()
`;

/** The warning when /loadfleet/hist could not be pulled (compare names it too). */
export const HIST_PULL_FAILED = 'the per-second histograms (/loadfleet/hist on the Locust master) could not be pulled';
export function histPullFailed(why: string): string {
  return `${HIST_PULL_FAILED} (${why}): no latency measured (n/a) — Locust's own latencies include the time of requests without a response, so they are not shown; the counts are Locust's CSV, and compare compares this run on totals (errors tested, p95 not)`;
}

/** Latency figures not measured (null): Locust's own include the time of requests without a response. */
const NO_LATENCY = { min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null } as const;
function withoutLatency(e: EndpointStats): EndpointStats {
  const { percentiles: _p, hdr: _h, ...rest } = e;
  return { ...rest, ...NO_LATENCY };
}

/**
 * Locust's merged stats when /loadfleet/hist could not be pulled: counts stay Locust's CSV, every latency figure
 * is null (n/a), so a latency threshold breaks "no latency measured" instead of judging figures that include
 * the time of requests without a response (a half-dead target would otherwise pass).
 */
export function locustWithoutHist(stats: MergedStats): MergedStats {
  return { ...stats, total: withoutLatency(stats.total), endpoints: stats.endpoints.map(withoutLatency) };
}

/** The master's /loadfleet/hist answer → endpoint → epoch second → counts. Throws on a malformed document. */
export function parseLocustHist(json: unknown): Map<string, Map<number, SecondCounts>> {
  if (typeof json !== 'object' || json === null) throw new Error('/loadfleet/hist is not a JSON object');
  const out = new Map<string, Map<number, SecondCounts>>();
  for (const [sec, eps] of Object.entries(json as Record<string, Record<string, [number, number, Record<string, number>, number?]>>)) {
    const s = Number(sec);
    if (!Number.isFinite(s)) throw new Error(`/loadfleet/hist: second ${sec} is not a number`);
    for (const [name, cell] of Object.entries(eps)) {
      const [count, failures, us, unanswered = 0] = cell;
      let m = out.get(name);
      if (!m) out.set(name, (m = new Map()));
      m.set(s, { count, failures, us: new Map(Object.entries(us).map(([k, v]) => [Number(k), v])), ...(unanswered ? { unanswered } : {}) });
    }
  }
  return out;
}

/** Seconds of histograms the live view's percentiles cover (Locust's own live window is ~10 s, its stats.py). */
export const LIVE_WINDOW_S = 10;

/**
 * The live p50/p95/p99 over the per-second histograms of the last seconds (all endpoints): answered requests only,
 * null when none got a response in the window — where Locust's own live percentiles count a refused connect's time.
 */
export function liveFromHist(hist: ReadonlyMap<string, ReadonlyMap<number, SecondCounts>>): { p50: number | null; p95: number | null; p99: number | null } {
  const h = newHistogram();
  for (const secs of hist.values()) for (const c of secs.values()) for (const [us, k] of c.us) h.recordValueWithCount(Math.min(HDR.highestUs, Math.max(HDR.lowest, Math.round(us))), k);
  const f = figures(h);
  return { p50: f.p50, p95: f.p95, p99: f.p99 };
}

/**
 * Locust's merged stats (its CSV: counts, failures) with every latency figure taken from the per-second
 * histograms instead, which hold only requests that got a response: an endpoint (or a run) nothing answered has
 * null latencies, so a latency threshold over it breaks "no latency measured". Counts stay Locust's own. An
 * endpoint the histograms lack has null latencies (and so has the total) and is named in the returned warnings,
 * as is any endpoint whose histogram count differs from Locust's.
 */
export function locustLatencyFromHist(stats: MergedStats, hist: ReadonlyMap<string, ReadonlyMap<number, SecondCounts>>): { stats: MergedStats; warnings: string[] } {
  const total = newHistogram();
  const warnings: string[] = [];
  const fill = (h: Histogram, secs: ReadonlyMap<number, SecondCounts>) => {
    let n = 0;
    for (const c of secs.values()) {
      n += c.count;
      for (const [us, k] of c.us) h.recordValueWithCount(Math.min(HDR.highestUs, Math.max(HDR.lowest, Math.round(us))), k);
    }
    return n;
  };
  const withHist = (e: EndpointStats, h: Histogram): EndpointStats => {
    const { percentiles: _p, hdr: _h, ...rest } = e;
    return { ...rest, ...figures(h), ...(h.totalCount > 0 ? { percentiles: percentileLadder(h), hdr: encode(h) } : {}) };
  };
  const endpoints = stats.endpoints.map((e) => {
    const secs = hist.get(e.name);
    if (!secs) {
      if (e.requests > 0) warnings.push(`${e.name}: no per-second histogram, so no latency measured (n/a): Locust's own latencies include the time of requests without a response; its counts are Locust's CSV`);
      return e.requests > 0 ? withoutLatency(e) : e;
    }
    const h = newHistogram();
    const n = fill(h, secs);
    total.add(h);
    if (n !== e.requests) warnings.push(`${e.name}: the per-second histograms count ${n} requests, Locust ${e.requests}`);
    return withHist(e, h);
  });
  // Endpoints only the histograms know (none expected) still count in the total's latencies.
  for (const [name, secs] of hist) if (!stats.endpoints.some((e) => e.name === name)) fill(total, secs);
  const anyMissing = stats.endpoints.some((e) => e.requests > 0 && !hist.has(e.name));
  // The total's latencies without a missing endpoint's would not be the total's: not measured either.
  return { stats: { ...stats, endpoints, total: anyMissing ? withoutLatency(stats.total) : withHist(stats.total, total) }, warnings };
}
