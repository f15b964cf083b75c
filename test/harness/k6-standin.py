#!/usr/bin/env python3
"""
A STAND-IN FOR k6, FOR LOADFLEET'S INTEGRATION TESTS ONLY. IT IS NOT k6 AND PROVES NOTHING ABOUT k6.

k6 cannot be obtained on this machine, so test/integration/run-k6-standin.test.ts puts this program at k6's
path on each namespace agent. It proves loadfleet's *orchestration* of k6 — the paused start of every
instance, the one release instant, the stop on abort (never a release after it), the collection of each
agent's raw output and the merge — against a program that follows k6's *documented* interfaces:
  - the command line loadfleet renders (`k6 run --paused --address IP:PORT --execution-segment a:b
    --execution-segment-sequence S --vus N --duration D | --stage d:t… --out json=F --summary-mode=disabled
    -e K=V … script`);
  - the REST API (k6 docs "k6 REST API"): GET /v1/status (status 1 initialising, 4 paused before the run,
    7 running, 9 ended), PATCH /v1/status with {"paused":false} or {"stopped":true}, GET /v1/metrics;
  - the JSON output (k6 docs "Results output > JSON"): gzip NDJSON, Metric declarations and Point lines, each
    HTTP request written as k6's trail (http_reqs, http_req_duration, http_req_blocked, http_req_failed, same
    tags and time = the request's end), times in ms.
It sends real, bounded HTTP GETs to the URL given as `-e TARGET=…` or loadfleet's `-e LOADFLEET_HOST=…` (the test's nginx), each VU pausing 50 ms
between requests. Its split of VUs over execution segments is a simple rounding, not k6's algorithm; it does
not run the script (it only checks that the file is there).
"""
import gzip
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def log(msg):
    sys.stderr.write(f"standin-k6 {datetime.now(timezone.utc).isoformat()} {msg}\n")
    sys.stderr.flush()


def seconds(d):
    total, num, i = 0.0, "", 0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    while i < len(d):
        c = d[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        u = "ms" if d[i:i + 2] == "ms" else c
        total += float(num) * units[u]
        num = ""
        i += len(u)
    return total


def parse(argv):
    if not argv or argv[0] != "run":
        log(f"unsupported command {argv[:1]}")
        sys.exit(255)
    o = {"paused": False, "address": "localhost:6565", "seg": "0:1", "vus": 1, "duration": None, "stages": [], "out": None, "env": {}, "tags": [], "script": None}
    i = 1
    while i < len(argv):
        a = argv[i]
        val = lambda: argv[i + 1]
        if a in ("--paused", "-p"):
            o["paused"] = True
        elif a == "--address":
            o["address"] = val(); i += 1
        elif a == "--execution-segment":
            o["seg"] = val(); i += 1
        elif a == "--execution-segment-sequence":
            i += 1
        elif a == "--vus":
            o["vus"] = int(val()); i += 1
        elif a == "--duration":
            o["duration"] = seconds(val()); i += 1
        elif a == "--stage":
            d, t = val().split(":"); o["stages"].append((seconds(d), int(t))); i += 1
        elif a == "--out":
            o["out"] = val().split("=", 1)[1]; i += 1
        elif a in ("-e", "--env"):
            k, v = val().split("=", 1); o["env"][k] = v; i += 1
        elif a in ("--tag",):
            o["tags"].append(val()); i += 1
        elif a.startswith("-"):
            pass
        else:
            o["script"] = a
        i += 1
    return o


class StandIn:
    def __init__(self, o):
        self.o = o
        a, b = (Fraction(x) for x in o["seg"].split(":"))
        self.a, self.b = a, b
        self.target = o["env"].get("TARGET") or o["env"].get("LOADFLEET_HOST", "http://127.0.0.1/")
        self.state = 1  # initialising
        self.paused = o["paused"]
        self.stopped = False
        self.released_at = None
        self.lock = threading.Lock()
        self.out = gzip.open(o["out"], "wt") if o["out"] else None
        self.declared = set()
        self.reqs = 0
        self.failed = 0
        self.durations = []
        self.active = 0
        self.done = threading.Event()
        self.go = threading.Event()
        self.closed = False
        stages = o["stages"] or [(o["duration"] or 10, o["vus"])]
        if not o["stages"]:
            stages = [(0.0, o["vus"]), (o["duration"] or 10, o["vus"])]
        self.stages = stages
        self.total_s = sum(d for d, _ in stages)

    def share(self, vus):
        return round(vus * self.b) - round(vus * self.a)

    def target_vus(self, t):
        prev, at = 0, 0.0
        for d, tgt in self.stages:
            if t < at + d:
                return prev + (tgt - prev) * ((t - at) / d if d else 1)
            prev, at = tgt, at + d
        return prev

    def point(self, metric, mtype, contains, t, value, tags):
        if self.out is None:
            return
        if metric not in self.declared:
            self.declared.add(metric)
            self.out.write(json.dumps({"type": "Metric", "data": {"type": mtype, "contains": contains, "tainted": None, "thresholds": [], "submetrics": None}, "metric": metric}, separators=(",", ":")) + "\n")
        self.out.write(json.dumps({"type": "Point", "data": {"time": t, "value": value, "tags": tags}, "metric": metric}, separators=(",", ":")) + "\n")

    def request(self):
        start = time.time()
        status = 0
        try:
            with urllib.request.urlopen(self.target, timeout=5) as r:
                r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except Exception:
            status = 0
        end = time.time()
        ms = (end - start) * 1000
        t = datetime.fromtimestamp(end, timezone.utc).isoformat()
        ok = 200 <= status < 400
        tags = {"expected_response": "true" if ok else "false", "group": "", "method": "GET", "name": self.target, "proto": "HTTP/1.1", "scenario": "default", "status": str(status), "url": self.target}
        with self.lock:
            if self.closed:
                return
            self.reqs += 1
            self.failed += 0 if ok else 1
            self.durations.append(ms)
            self.point("http_reqs", "counter", "default", t, 1, tags)
            self.point("http_req_duration", "trend", "time", t, ms, tags)
            self.point("http_req_blocked", "trend", "time", t, 0, tags)
            self.point("http_req_failed", "rate", "default", t, 0 if ok else 1, tags)

    def vu(self, k):
        while not self.stopped:
            t = time.time() - self.released_at
            if t >= self.total_s:
                return
            if k < self.share(self.target_vus(t)):
                self.request()
                time.sleep(0.05)
            else:
                time.sleep(0.05)

    def run(self):
        time.sleep(0.5)  # "initialising VUs"
        if self.stopped:
            return self.finish()
        self.state = 4 if self.paused else 5
        if self.paused:
            log("paused before the run, waiting for PATCH /v1/status")
            while not self.go.wait(0.1):
                if self.stopped:
                    log("stopped while paused: never released")
                    return self.finish()
        self.released_at = time.time()
        log(f"released at {int(self.released_at * 1000)}")
        self.state = 7
        peak = max(t for _, t in self.stages)
        threads = [threading.Thread(target=self.vu, args=(k,), daemon=True) for k in range(self.share(peak))]
        for th in threads:
            th.start()
        while any(th.is_alive() for th in threads):
            self.active = min(len(threads), self.share(self.target_vus(time.time() - self.released_at)))
            with self.lock:
                if not self.closed:
                    self.point("vus", "gauge", "default", datetime.now(timezone.utc).isoformat(), self.active, None)
            time.sleep(1)
        self.finish()

    def finish(self):
        with self.lock:
            if self.out is not None and not self.closed:
                self.out.close()
            self.closed = True
        self.state = 9
        self.active = 0
        log(f"ended: {self.reqs} requests, {self.failed} failed")
        self.done.set()

    def status_doc(self):
        return {"data": {"type": "status", "id": "default", "attributes": {"status": self.state, "paused": self.paused, "vus": self.active, "vus-max": self.o["vus"], "stopped": self.stopped, "running": self.state == 7, "tainted": False}}}

    def metrics_doc(self):
        with self.lock:
            d = sorted(self.durations)
            n, reqs, failed = len(d), self.reqs, self.failed
        pct = lambda p: d[max(0, int(p * n + 0.5) - 1)] if n else 0
        dur = {"avg": sum(d) / n if n else 0, "min": d[0] if n else 0, "med": pct(0.5), "max": d[-1] if n else 0, "p(90)": pct(0.9), "p(95)": pct(0.95)}
        m = lambda i, t, c, s: {"type": "metrics", "id": i, "attributes": {"type": t, "contains": c, "tainted": None, "sample": s}}
        return {"data": [
            m("http_req_duration", "trend", "time", dur),
            m("http_reqs", "counter", "default", {"count": reqs, "rate": 0}),
            m("http_req_failed", "rate", "default", {"rate": failed / reqs if reqs else 0, "passes": failed, "fails": reqs - failed}),
            m("vus", "gauge", "default", {"value": self.active}),
        ]}


def main():
    o = parse(sys.argv[1:])
    if not o["script"] or not os.access(o["script"], os.R_OK):
        log(f"could not load the script {o['script']}")
        sys.exit(255)
    s = StandIn(o)
    host, port = o["address"].rsplit(":", 1)

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, doc):
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/v1/status":
                return self.reply(s.status_doc())
            if self.path == "/v1/metrics":
                return self.reply(s.metrics_doc())
            self.send_error(404)

        def do_PATCH(self):
            if self.path != "/v1/status":
                return self.send_error(404)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            attrs = body.get("data", {}).get("attributes", {})
            if attrs.get("stopped") is True:
                log("stop requested through the REST API")
                s.stopped = True
            if attrs.get("paused") is False and s.paused:
                s.paused = False
                s.go.set()
            return self.reply(s.status_doc())

    srv = ThreadingHTTPServer((host, int(port)), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: setattr(s, "stopped", True))
    signal.signal(signal.SIGINT, lambda *_: setattr(s, "stopped", True))
    log(f"REST API on {o['address']}, segment {o['seg']}, target {s.target}, generator {o['env'].get('LOADFLEET_GENERATOR')} {o['env'].get('LOADFLEET_GENERATOR_INDEX')}/{o['env'].get('LOADFLEET_GENERATORS')}, tags {o['tags']}, script {o['script']}")
    s.run()
    srv.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
