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
  - with `-o experimental-prometheus-rw` (grafana/k6 v2.0.0, internal/output/prometheusrw/): every
    K6_PROMETHEUS_RW_PUSH_INTERVAL (default 5s) and once more at the end, a snappy-compressed protobuf
    WriteRequest POSTed to K6_PROMETHEUS_RW_SERVER_URL with the headers remote/client.go sets, holding what
    remotewrite.go maps: `k6_http_reqs_total` (counter), `k6_http_req_failed_rate` (rate), `k6_vus` (gauge)
    and, with K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true, `k6_http_req_duration_seconds` as one native
    histogram (seconds, schema 3 from bucket factor 1.1, client_golang's zero threshold; trend.go) — labels the
    sample's tags plus the global --tag ones, empty values dropped, sorted (prometheus.go MapSeries); only
    series with a newer sample are sent (convertToPbSeries). The snappy stream is literal-only (valid snappy).
It sends real, bounded HTTP GETs to the URL given as `-e TARGET=…` or loadfleet's `-e LOADFLEET_HOST=…` (the test's nginx), each VU pausing 50 ms
between requests. Its split of VUs over execution segments is a simple rounding, not k6's algorithm; it does
not run the script (it only checks that the file is there).
"""
import gzip
import json
import math
import os
import struct
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
    o = {"paused": False, "address": "localhost:6565", "seg": "0:1", "vus": 1, "duration": None, "stages": [], "out": None, "rw": False, "env": {}, "tags": [], "script": None}
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
        elif a in ("--out", "-o"):
            name, _, arg = val().partition("=")
            if name == "json":
                o["out"] = arg
            elif name == "experimental-prometheus-rw":
                o["rw"] = True
            else:
                log(f"unsupported output {name}")
                sys.exit(255)
            i += 1
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


# ---- Prometheus remote write, as k6 v2.0.0's experimental-prometheus-rw output sends it ----

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _zigzag(n):
    return (n << 1) ^ (n >> 63)


def _field(num, wire, payload):
    return _varint((num << 3) | wire) + payload


def _bytes(num, b):
    return _field(num, 2, _varint(len(b)) + b)


def _double(num, v):
    return _field(num, 1, struct.pack("<d", v))


def _uvarint(num, v):
    return _field(num, 0, _varint(v))


def _snappy(raw):
    """A valid snappy block of literals only (Prometheus decodes it with snappy.Decode)."""
    out = bytearray(_varint(len(raw)))
    for i in range(0, len(raw), 65536):
        chunk = raw[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        else:
            out.append(61 << 2)
            out += struct.pack("<H", n)
        out += chunk
    return bytes(out)


ZERO_THRESHOLD = 2.938735877055719e-39  # client_golang DefNativeHistogramZeroThreshold
SCHEMA = 3  # pickSchema(1.1) in client_golang histogram.go


def _bucket_key(v):
    # client_golang histogram.go (schema > 0): frac, exp := math.Frexp(v); key = sort.SearchFloat64s(bounds, frac) +
    # (exp-1)*len(bounds), bounds[i] = 0.5 * 2^(i/8). Bucket k holds (2^((k-1)/8), 2^(k/8)].
    frac, exp = math.frexp(v)
    bounds = [0.5 * 2 ** (i / 8) for i in range(8)]
    i = next((k for k, b in enumerate(bounds) if b >= frac), len(bounds))
    return i + (exp - 1) * len(bounds)


class NativeHistogram:
    def __init__(self):
        self.count = 0
        self.sum = 0.0
        self.zero = 0
        self.buckets = {}

    def observe(self, v):
        self.count += 1
        self.sum += v
        if abs(v) <= ZERO_THRESHOLD:
            self.zero += 1
            return
        k = _bucket_key(v)
        self.buckets[k] = self.buckets.get(k, 0) + 1

    def encode(self, ts_ms):
        keys = sorted(self.buckets)
        spans, deltas, prev_count, prev_key = [], [], 0, None
        for k in keys:
            if prev_key is not None and k == prev_key + 1:
                spans[-1][1] += 1
            else:
                spans.append([k if prev_key is None else k - prev_key - 1, 1])
            deltas.append(self.buckets[k] - prev_count)
            prev_count, prev_key = self.buckets[k], k
        b = _uvarint(1, self.count) + _double(3, self.sum) + _field(4, 0, _varint(_zigzag(SCHEMA) & 0xFFFFFFFF))
        b += _double(5, ZERO_THRESHOLD) + _uvarint(6, self.zero)
        for off, ln in spans:
            b += _bytes(11, _field(1, 0, _varint(_zigzag(off) & 0xFFFFFFFF)) + _uvarint(2, ln))
        if deltas:
            b += _bytes(12, b"".join(_varint(_zigzag(d) & 0xFFFFFFFFFFFFFFFF) for d in deltas))
        b += _field(15, 0, _varint(ts_ms))
        return b


class RemoteWrite:
    """The output's state: one sink per series (metric + tag set), cumulative since the start."""

    def __init__(self, env, global_tags):
        self.url = env.get("K6_PROMETHEUS_RW_SERVER_URL", "http://localhost:9090/api/v1/write")
        self.native = env.get("K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM", "").lower() == "true"
        self.interval = seconds(env.get("K6_PROMETHEUS_RW_PUSH_INTERVAL", "5s"))
        self.global_tags = dict(t.split("=", 1) for t in global_tags)
        self.series = {}  # key → [kind, name, labels, value-or-histogram, latest_ms, sent_ms]
        self.lock = threading.Lock()
        self.pushes = 0

    def add(self, metric, mtype, t_ms, value, tags):
        labels = {**(tags or {}), **self.global_tags}
        if mtype == "counter":
            name = f"k6_{metric}_total"
        elif mtype == "rate":
            name = f"k6_{metric}_rate"
        elif mtype == "gauge":
            name = f"k6_{metric}"
        elif mtype == "trend":
            if not self.native:
                return  # trend-stat gauges: not what loadfleet asks for
            name = f"k6_{metric}_seconds"
            value = value / 1000
        labels = {k: v for k, v in labels.items() if k and v}
        labels["__name__"] = name
        key = tuple(sorted(labels.items()))
        with self.lock:
            s = self.series.get(key)
            if s is None:
                s = self.series[key] = {"type": mtype, "labels": key, "v": NativeHistogram() if mtype == "trend" else ([0, 0] if mtype == "rate" else 0.0), "latest": 0, "sent": -1}
            if mtype == "counter":
                s["v"] += value
            elif mtype == "gauge":
                s["v"] = value
            elif mtype == "rate":
                s["v"][0] += 1 if value else 0
                s["v"][1] += 1
            else:
                s["v"].observe(value)
            s["latest"] = max(s["latest"], t_ms)

    def push(self):
        with self.lock:
            parts = []
            for s in self.series.values():
                if s["latest"] <= s["sent"]:
                    continue
                ts = b"".join(_bytes(1, _bytes(1, k.encode()) + _bytes(2, v.encode())) for k, v in s["labels"])
                if s["type"] == "trend":
                    ts += _bytes(4, s["v"].encode(s["latest"]))
                else:
                    v = s["v"][0] / s["v"][1] if s["type"] == "rate" else float(s["v"])
                    ts += _bytes(2, _double(1, v) + _field(2, 0, _varint(s["latest"])))
                parts.append(_bytes(1, ts))
                s["sent"] = s["latest"]
        if not parts:
            return
        req = urllib.request.Request(self.url, data=_snappy(b"".join(parts)), method="POST", headers={
            "User-Agent": "k6-prometheus-rw-output", "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf", "X-Prometheus-Remote-Write-Version": "0.1.0"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                r.read()
            self.pushes += 1
            log(f"remote write: {len(parts)} series pushed ({r.status})")
        except urllib.error.HTTPError as e:
            log(f"remote write failed: {e.code} {e.read()[:200]!r}")
        except Exception as e:
            log(f"remote write failed: {e}")


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
        self.rw = RemoteWrite(os.environ, o["tags"]) if o["rw"] else None
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
        if self.rw is not None:
            self.rw.add(metric, mtype, int(datetime.fromisoformat(t).timestamp() * 1000), value, tags)
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

    def flusher(self):
        while not self.done.wait(self.rw.interval):
            self.rw.push()

    def run(self):
        if self.rw is not None:
            threading.Thread(target=self.flusher, daemon=True).start()
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
        self.done.set()
        if self.rw is not None:
            self.rw.push()  # the PeriodicFlusher's last flush when the output stops
        log(f"ended: {self.reqs} requests, {self.failed} failed")

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
