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
 * Events and their arguments as in locust 2.12.1 locust/event.py (request: request_type, name, response_time,
 * response_length, response, context, exception; report_to_master(client_id, data); worker_report(client_id,
 * data); init(environment, runner, web_ui)); the web UI's Flask app as in its docs/extending-locust.rst.
 */
import type { SecondCounts } from '../compare/hlog';

export const LOCUST_HIST_PRECISION =
  'Locust: every response time Locust recorded, counted per second and endpoint on the workers to 3 significant digits (µs) and added on the master through its worker reports; kept as HdrHistograms of 3 significant digits (each latency within 0.1 %)';

export const LOCUST_HIST_PLUGIN = `

# ---- added by loadfleet run: per-second latency histograms for "loadfleet compare" ----
def _loadfleet_hist():
    import json, time
    from locust import events
    pending = {}
    merged = {}

    def key(ms):
        us = max(1, int(round(ms * 1000)))
        d = len(str(us)) - 3
        return us if d <= 0 else int(round(us / 10 ** d)) * 10 ** d

    @events.request.add_listener
    def on_request(request_type=None, name=None, response_time=None, exception=None, **kw):
        if response_time is None:
            return
        cell = pending.setdefault(str(int(time.time())), {}).setdefault("%s %s" % (request_type, name), [0, 0, {}])
        cell[0] += 1
        if exception is not None:
            cell[1] += 1
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
            for k, (n, f, us) in eps.items():
                c = into.setdefault(k, [0, 0, {}])
                c[0] += n
                c[1] += f
                for u, m in us.items():
                    c[2][str(u)] = c[2].get(str(u), 0) + m

    @events.init.add_listener
    def on_init(environment, **kw):
        if getattr(environment, "web_ui", None) is not None:
            @environment.web_ui.app.route("/loadfleet/hist")
            def loadfleet_hist():
                return json.dumps(merged)


_loadfleet_hist()
`;

/** The master's /loadfleet/hist answer → endpoint → epoch second → counts. Throws on a malformed document. */
export function parseLocustHist(json: unknown): Map<string, Map<number, SecondCounts>> {
  if (typeof json !== 'object' || json === null) throw new Error('/loadfleet/hist is not a JSON object');
  const out = new Map<string, Map<number, SecondCounts>>();
  for (const [sec, eps] of Object.entries(json as Record<string, Record<string, [number, number, Record<string, number>]>>)) {
    const s = Number(sec);
    if (!Number.isFinite(s)) throw new Error(`/loadfleet/hist: second ${sec} is not a number`);
    for (const [name, cell] of Object.entries(eps)) {
      const [count, failures, us] = cell;
      let m = out.get(name);
      if (!m) out.set(name, (m = new Map()));
      m.set(s, { count, failures, us: new Map(Object.entries(us).map(([k, v]) => [Number(k), v])) });
    }
  }
  return out;
}
