/*
 * loadfleet's Artillery plugin: records every response time into HdrHistograms (µs, 3 significant
 * digits) per endpoint and per second, counts what Artillery itself counts (requests sent, responses,
 * errors by code, virtual users), and writes them in a form loadfleet merges across generators exactly.
 * Artillery's own --output report keeps only finished percentiles, which cannot be merged, and is
 * written only when Artillery ends by itself (a stop never gets one).
 *
 * Enabled by `loadfleet run` without touching the user's script:
 *   ARTILLERY_PLUGIN_PATH=<dir holding this folder>
 *   ARTILLERY_PLUGINS='{"loadfleet-hdr":{"out":"<results dir>","generator":"<agent>","gate":"<dir>","stop":"<file>"}}'
 * hdr-histogram-js is resolved from NODE_PATH (run ships it beside this plugin).
 *
 * Artillery 2 loads plugins in the main thread and in every worker thread; only workers see requests,
 * so only they record. Each worker keeps three files in `out`:
 *   hdr-<id>.json      counters and one histogram per endpoint (bounded: at most maxEndpoints + "(other)"),
 *                      rewritten every second — its size does not grow with the run's length;
 *   live-<id>.json     counters and the total histogram only (what the live view reads every second);
 *   buckets-<id>.ndjson one line per finished second, appended once (never rewritten).
 * The counts follow Artillery's own definitions (@artilleryio/int-core 2.0.21 lib/engine_http.js: the
 * `http.requests` counter when got emits 'request', `http.responses` in _handleResponse, `errors.<code>` from
 * runner.js's scenarioEvents 'error'), read from the same scenario event emitter Artillery's runner counts from.
 */
'use strict';

const fs = require('fs');
const path = require('path');

const FLUSH_MS = 1000;
const STOP_POLL_MS = 100;
/** Endpoints kept apart; further names share one "(other)" row (a templated path could make thousands). */
const MAX_ENDPOINTS = 100;
const OTHER = '(other)';

/**
 * The recording state of one worker, with its own clock (tests and the benchmark drive a fake one).
 * record(): one response; countRequest()/countResponse()/countError(): Artillery's counters; vuStarted()/vuEnded().
 * flush(): appends every finished second to the buckets file (once), rewrites the small hdr/live files.
 */
function createRecorder(opts) {
  const hdr = opts.hdr;
  const now = opts.now || Date.now;
  const maxEndpoints = opts.maxEndpoints || MAX_ENDPOINTS;
  const { file, liveFile, bucketsFile, generator } = opts;
  const build = (digits) =>
    hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3600000000, numberOfSignificantValueDigits: digits, bitBucketSize: 32, useWebAssembly: false });
  const newCell = (digits) => ({ count: 0, failures: 0, hist: build(digits) });
  const endpoints = new Map();
  const total = newCell(3);
  /** Seconds not yet appended: only the current one (and, briefly, the previous) — bounded. */
  const open = new Map();
  const counters = { sent: 0, responses: 0, errors: {}, vusersActive: 0, vusersPeak: 0 };
  let firstRequestAtMs = null;
  let lastResponseAtMs = null;
  let completeThroughS = null;
  let stopped = false;

  const endpoint = (name) => {
    let c = endpoints.get(name);
    if (!c) {
      if (endpoints.size >= maxEndpoints && !endpoints.has(OTHER)) endpoints.set(OTHER, newCell(3));
      if (endpoints.size > maxEndpoints) return endpoints.get(OTHER);
      endpoints.set(name, (c = newCell(3)));
    }
    return c;
  };
  const record = (name, ms, failed) => {
    const t = now();
    if (lastResponseAtMs === null || t > lastResponseAtMs) lastResponseAtMs = t;
    const us = Math.min(3600000000, Math.max(1, Math.round(ms * 1000)));
    const s = Math.floor(t / 1000);
    let b = open.get(s);
    if (!b) open.set(s, (b = newCell(2)));
    const ep = endpoint(name);
    for (const c of [ep, total, b]) {
      c.count++;
      if (failed) c.failures++;
      c.hist.recordValue(us);
    }
    // This second's counts per endpoint, sparse (µs at its 3-digit HdrHistogram bucket → count): the per-second
    // histograms loadfleet keeps for compare (hist/*.hlog); small, as Artillery measures whole ms.
    const key = endpoints.get(name) === ep ? name : OTHER;
    if (!b.e) b.e = {};
    const cell = b.e[key] || (b.e[key] = [0, 0, {}]);
    cell[0]++;
    if (failed) cell[1]++;
    const k = hdrKey(us);
    cell[2][k] = (cell[2][k] || 0) + 1;
  };
  const enc = (c) => ({ count: c.count, failures: c.failures, hist: hdr.encodeIntoCompressedBase64(c.hist) });
  const head = () => ({
    format: 'loadfleet-hdr/1',
    generator,
    unit: 'us',
    bucketS: 1,
    firstRequestAtMs,
    lastResponseAtMs,
    sent: counters.sent,
    responses: counters.responses,
    errors: counters.errors,
    // The most VUs running at once since the last flush: a VU of a fast scenario lives milliseconds, so the
    // count at the flush instant would read 0 while users arrive every second.
    vusers: counters.vusersPeak,
    completeThroughS,
    stopped,
  });
  const atomic = (f, text) => {
    fs.writeFileSync(`${f}.tmp`, text);
    fs.renameSync(`${f}.tmp`, f); // readers never see half a file
  };
  /** final: the current second too (the worker ends); otherwise only seconds that are over. */
  const flush = (final) => {
    const current = Math.floor(now() / 1000);
    const done = [...open.keys()].filter((s) => final || s < current).sort((a, b) => a - b);
    if (done.length) {
      fs.appendFileSync(bucketsFile, done.map((s) => `${JSON.stringify({ t: s, ...enc(open.get(s)), e: open.get(s).e || {} })}\n`).join(''));
      for (const s of done) open.delete(s);
    }
    completeThroughS = final ? current : current - 1;
    const h = head();
    atomic(liveFile, JSON.stringify({ ...h, total: enc(total) }));
    atomic(file, JSON.stringify({ ...h, endpoints: Object.fromEntries([...endpoints].map(([k, c]) => [k, enc(c)])), buckets: {} }));
    counters.vusersPeak = counters.vusersActive;
  };
  return {
    record,
    flush,
    countRequest() {
      counters.sent++;
      if (firstRequestAtMs === null) firstRequestAtMs = now();
    },
    countResponse() {
      counters.responses++;
    },
    countError(code) {
      const k = String(code);
      counters.errors[k] = (counters.errors[k] || 0) + 1;
    },
    vuStarted() {
      counters.vusersActive++;
      if (counters.vusersActive > counters.vusersPeak) counters.vusersPeak = counters.vusersActive;
    },
    vuEnded() {
      counters.vusersActive = Math.max(0, counters.vusersActive - 1);
    },
    markStopped() {
      stopped = true;
    },
    counters,
  };
}

/** µs → its bucket's lowest value in a 3-digit HdrHistogram, as scripts/run/per-second.ts's hdrKey (loses nothing more). */
function hdrKey(us) {
  if (us < 2048) return us;
  const unit = Math.pow(2, Math.floor(Math.log2(us)) - 10);
  return Math.floor(us / unit) * unit;
}

/** "GET /path" (query string dropped) or "GET <name>" when the request has `name:`. */
function endpointName(req) {
  const method = (req.method || 'GET').toUpperCase();
  if (req.name) return `${method} ${req.name}`;
  try {
    return `${method} ${new URL(req.url).pathname}`;
  } catch (_) {
    return `${method} ${String(req.url).split('?')[0]}`;
  }
}

function LoadfleetHdr(script, events) {
  const isV2 = global.artillery && Number(String(global.artillery.version || '2').split('.')[0]) > 1;
  if (isV2 && typeof process.env.LOCAL_WORKER_ID === 'undefined') return;

  const cfg = (script.config.plugins && script.config.plugins['loadfleet-hdr']) || {};
  const out = cfg.out || process.env.LOADFLEET_HDR_OUT;
  if (!out) throw new Error('artillery-plugin-loadfleet-hdr: no output folder (config.plugins.loadfleet-hdr.out)');
  const hdr = require('hdr-histogram-js');
  const generator = cfg.generator || require('os').hostname();
  const id = `${generator}-${process.pid}-${process.env.LOCAL_WORKER_ID || 0}`;
  fs.mkdirSync(out, { recursive: true });
  const rec = createRecorder({
    hdr, generator, maxEndpoints: cfg.maxEndpoints,
    file: path.join(out, `hdr-${id}.json`), liveFile: path.join(out, `live-${id}.json`), bucketsFile: path.join(out, `buckets-${id}.ndjson`),
  });
  // rawSamples (tests and audits): every latency, ms, one per line — what the histograms must agree with.
  let finalWritten = false;
  const rawFd = cfg.rawSamples ? fs.openSync(path.join(out, `hdr-${id}.samples`), 'a') : undefined;

  // Artillery's runner counts from the scenario event emitter every hook receives (runner.js: 'counter',
  // 'error'); listening to the same one gives the same numbers, kept here so a stopped worker still has them.
  const watched = new WeakSet();
  const watch = (ee) => {
    if (!ee || watched.has(ee)) return;
    watched.add(ee);
    ee.on('counter', (name, value) => {
      if (name === 'http.requests') for (let i = 0; i < (value || 0); i++) rec.countRequest();
      else if (name === 'http.responses') for (let i = 0; i < (value || 0); i++) rec.countResponse();
    });
    // A scenario ends at its first error (engine_http.js compile(): emit 'error', then callback(err)).
    ee.on('error', (code) => {
      rec.countError(code);
      rec.vuEnded();
    });
  };

  script.config.processor = script.config.processor || {};
  script.config.processor.loadfleetHdrBeforeScenario = function (context, ee, done) {
    watch(ee);
    rec.vuStarted();
    return done();
  };
  script.config.processor.loadfleetHdrAfterScenario = function (context, ee, done) {
    rec.vuEnded();
    return done();
  };
  // Same measure as Artillery's http.response_time: time to the first byte of the response. A status ≥ 400
  // is a failed request here (as Locust, k6's http_req_failed and JMeter count it); Artillery itself only
  // counts errors.* (no response, failed capture/match) and leaves 4xx/5xx in http.codes.*.
  script.config.processor.loadfleetHdrAfterResponse = function (req, res, context, ee, done) {
    watch(ee);
    const ms = res.timings && res.timings.phases ? res.timings.phases.firstByte : undefined;
    if (typeof ms === 'number') {
      if (rawFd !== undefined) fs.writeSync(rawFd, `${ms}\n`);
      rec.record(endpointName(req), ms, res.statusCode >= 400);
    }
    return done();
  };
  for (const scenario of script.scenarios || []) {
    scenario.beforeScenario = [].concat('loadfleetHdrBeforeScenario', scenario.beforeScenario || []);
    scenario.afterScenario = [].concat(scenario.afterScenario || [], 'loadfleetHdrAfterScenario');
    scenario.afterResponse = [].concat(scenario.afterResponse || [], 'loadfleetHdrAfterResponse');
  }

  // Files exist from the start (a worker stopped at the gate still leaves its zero counts).
  rec.flush(false);
  if (cfg.gate) holdUntilReleased(cfg.gate, cfg.gateTimeoutMs || 600000, cfg.stop);
  const timer = setInterval(() => rec.flush(false), FLUSH_MS);
  timer.unref();
  // Stop at once when loadfleet asks (a file, not a signal: SIGTERM reaches Artillery's own handler, which
  // lets in-flight scenarios go on for seconds). Each worker flushes its counters, marks itself stopped and
  // ends its own thread (process.exit() in a worker_threads Worker ends only that thread): nothing is sent
  // after this; loadfleet then ends the process (TERM, then KILL) once every worker is marked stopped.
  if (cfg.stop) {
    const stopTimer = setInterval(() => {
      if (!fs.existsSync(cfg.stop)) return;
      clearInterval(stopTimer);
      clearInterval(timer);
      rec.markStopped();
      finalWritten = true;
      try {
        rec.flush(true);
      } finally {
        process.exit(0);
      }
    }, STOP_POLL_MS);
    stopTimer.unref();
  }
  const finalFlush = () => {
    if (finalWritten) return;
    finalWritten = true;
    rec.flush(true);
  };
  this.cleanup = (done) => {
    clearInterval(timer);
    try {
      finalFlush();
    } finally {
      done();
    }
  };
  process.once('exit', () => {
    try {
      finalFlush();
    } catch (_) {
      /* best effort at exit: the periodic files are there */
    }
  });
}

/**
 * Start together: Artillery has no master, and loading it takes seconds (more on a busy machine), so
 * a fixed start instant leaves generators apart. Instead each worker says it is ready (gate/ready-*)
 * and blocks here — before its runner starts any phase — until loadfleet writes the release instant
 * to gate/go on every agent, then sleeps until that instant. Blocking is deliberate: Atomics.wait
 * keeps this worker's event loop from starting the test. No release within the timeout (loadfleet died,
 * or was stopped) or a stop file: the whole Artillery process ends without sending anything.
 */
function holdUntilReleased(gate, timeoutMs, stopFile) {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  fs.mkdirSync(gate, { recursive: true });
  fs.writeFileSync(path.join(gate, `ready-${process.pid}-${process.env.LOCAL_WORKER_ID || 0}`), String(Date.now()));
  const deadline = Date.now() + timeoutMs;
  let at = 0;
  while (!at && Date.now() < deadline) {
    if (stopFile && fs.existsSync(stopFile)) break;
    try {
      at = Number(fs.readFileSync(path.join(gate, 'go'), 'utf8')) || 0;
    } catch (_) {
      /* not released yet */
    }
    if (!at) Atomics.wait(tick, 0, 0, 10);
  }
  if (!at) {
    const why = stopFile && fs.existsSync(stopFile) ? 'stopped before the release' : `no release within ${timeoutMs} ms`;
    try {
      fs.writeFileSync(path.join(gate, `aborted-${process.pid}-${process.env.LOCAL_WORKER_ID || 0}`), why);
    } catch (_) {
      /* the note is best effort; ending is not */
    }
    process.stderr.write(`loadfleet: ${why}: ending Artillery without sending any request\n`);
    process.kill(process.pid, 'SIGKILL');
    for (;;) Atomics.wait(tick, 0, 0, 1000); // never return to start the phases
  }
  while (at && Date.now() < at) Atomics.wait(tick, 0, 0, Math.max(1, Math.min(10, at - Date.now())));
}

module.exports = { Plugin: LoadfleetHdr, createRecorder, endpointName, MAX_ENDPOINTS, OTHER };
