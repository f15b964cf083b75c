/*
 * loadfleet's Artillery plugin: records every response time into HdrHistograms (µs, 3 significant
 * digits) per endpoint and per second, and writes them as "loadfleet-hdr/1" JSON (base64-compressed
 * histograms) that loadfleet merges across generators exactly. Artillery's own --output report keeps
 * only finished percentiles, which cannot be merged.
 *
 * Enabled by `loadfleet run` without touching the user's script:
 *   ARTILLERY_PLUGIN_PATH=<dir holding this folder>
 *   ARTILLERY_PLUGINS='{"loadfleet-hdr":{"out":"<results dir>","generator":"<agent>"}}'
 * hdr-histogram-js is resolved from NODE_PATH (run ships it beside this plugin).
 *
 * Artillery 2 loads plugins in the main thread and in every worker thread; only workers see requests,
 * so only they record. Each worker writes its own file (hdr-<generator>-<pid>-<worker>.json) every
 * 2 s and at the end (cleanup), so a stopped run still leaves what was measured.
 */
'use strict';

const fs = require('fs');
const path = require('path');

const FLUSH_MS = 2000;

function LoadfleetHdr(script, events) {
  const isV2 = global.artillery && Number(String(global.artillery.version || '2').split('.')[0]) > 1;
  if (isV2 && typeof process.env.LOCAL_WORKER_ID === 'undefined') return;

  const cfg = (script.config.plugins && script.config.plugins['loadfleet-hdr']) || {};
  const out = cfg.out || process.env.LOADFLEET_HDR_OUT;
  if (!out) throw new Error('artillery-plugin-loadfleet-hdr: no output folder (config.plugins.loadfleet-hdr.out)');
  const hdr = require('hdr-histogram-js');
  const generator = cfg.generator || require('os').hostname();
  const file = path.join(out, `hdr-${generator}-${process.pid}-${process.env.LOCAL_WORKER_ID || 0}.json`);

  const build = (digits) =>
    hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3600000000, numberOfSignificantValueDigits: digits, bitBucketSize: 32, useWebAssembly: false });
  const endpoints = new Map();
  const buckets = new Map();
  const cell = (map, key, digits) => {
    let c = map.get(key);
    if (!c) map.set(key, (c = { count: 0, failures: 0, hist: build(digits) }));
    return c;
  };
  // rawSamples (tests and audits): every latency, ms, one per line — what the histograms must agree with.
  const rawFd = cfg.rawSamples ? fs.openSync(`${file.replace(/\.json$/, '')}.samples`, 'a') : undefined;
  let firstRequestAtMs = null;
  // With the first request: the span load was really sent over (loadfleet's rps divides by it).
  let lastResponseAtMs = null;
  const record = (name, ms, failed) => {
    const now = Date.now();
    const sentAt = now - ms;
    if (firstRequestAtMs === null || sentAt < firstRequestAtMs) firstRequestAtMs = Math.round(sentAt);
    if (lastResponseAtMs === null || now > lastResponseAtMs) lastResponseAtMs = now;
    if (rawFd !== undefined) fs.writeSync(rawFd, `${ms}\n`);
    const us = Math.min(3600000000, Math.max(1, Math.round(ms * 1000)));
    for (const c of [cell(endpoints, name, 3), cell(buckets, Math.floor(Date.now() / 1000), 2)]) {
      c.count++;
      if (failed) c.failures++;
      c.hist.recordValue(us);
    }
  };

  const write = () => {
    const enc = (c) => ({ count: c.count, failures: c.failures, hist: hdr.encodeIntoCompressedBase64(c.hist) });
    const doc = {
      format: 'loadfleet-hdr/1',
      generator,
      unit: 'us',
      bucketS: 1,
      firstRequestAtMs,
      lastResponseAtMs,
      endpoints: Object.fromEntries([...endpoints].map(([k, c]) => [k, enc(c)])),
      buckets: Object.fromEntries([...buckets].map(([k, c]) => [String(k), enc(c)])),
    };
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(doc));
    fs.renameSync(tmp, file); // readers never see half a file
  };

  // Same measure as Artillery's http.response_time: time to the first byte of the response.
  script.config.processor = script.config.processor || {};
  script.config.processor.loadfleetHdrAfterResponse = function (req, res, userContext, ee, done) {
    let name;
    try {
      const u = new URL(req.url);
      name = `${(req.method || 'GET').toUpperCase()} ${req.name || u.pathname + u.search}`;
    } catch (_) {
      name = `${(req.method || 'GET').toUpperCase()} ${req.name || req.url}`;
    }
    const ms = res.timings && res.timings.phases ? res.timings.phases.firstByte : undefined;
    if (typeof ms === 'number') record(name, ms, res.statusCode >= 400);
    return done();
  };
  for (const scenario of script.scenarios || []) {
    scenario.afterResponse = [].concat(scenario.afterResponse || [], 'loadfleetHdrAfterResponse');
  }

  fs.mkdirSync(out, { recursive: true });
  if (cfg.gate) holdUntilReleased(cfg.gate, cfg.gateTimeoutMs || 600000);
  const timer = setInterval(write, FLUSH_MS);
  timer.unref();
  this.cleanup = (done) => {
    clearInterval(timer);
    try {
      write();
    } finally {
      done();
    }
  };
  process.once('exit', () => {
    try {
      write();
    } catch (_) {
      /* best effort at exit: the periodic file is there */
    }
  });
}

/**
 * Start together: Artillery has no master, and loading it takes seconds (more on a busy machine), so
 * a fixed start instant leaves generators apart. Instead each worker says it is ready (gate/ready-*)
 * and blocks here — before its runner starts any phase — until loadfleet writes the release instant
 * to gate/go on every agent, then sleeps until that instant. Blocking is deliberate: Atomics.wait
 * keeps this worker's event loop from starting the test.
 */
function holdUntilReleased(gate, timeoutMs) {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  fs.mkdirSync(gate, { recursive: true });
  fs.writeFileSync(path.join(gate, `ready-${process.pid}-${process.env.LOCAL_WORKER_ID || 0}`), String(Date.now()));
  const deadline = Date.now() + timeoutMs;
  let at = 0;
  while (!at && Date.now() < deadline) {
    try {
      at = Number(fs.readFileSync(path.join(gate, 'go'), 'utf8')) || 0;
    } catch (_) {
      /* not released yet */
    }
    if (!at) Atomics.wait(tick, 0, 0, 10);
  }
  while (at && Date.now() < at) Atomics.wait(tick, 0, 0, Math.max(1, Math.min(10, at - Date.now())));
}

module.exports = { Plugin: LoadfleetHdr };
