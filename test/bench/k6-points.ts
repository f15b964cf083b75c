/**
 * Reading k6's raw points (`--out json`, the documented NDJSON, filtered to http_req_duration/http_req_failed as
 * the agents do) into the merger: the cost per request on the collecting side, and that memory does not grow
 * with the number of points (the reader streams; the merger's size is fixed by the value range).
 */
import { K6PointReader, lineSplitter } from '../../scripts/run/k6-output';
import { Merger } from '../../scripts/run/merge';

function* points(n: number): Generator<string> {
  const tags = { expected_response: 'true', group: '', method: 'GET', name: 'http://10.0.0.5:8080/api/items', proto: 'HTTP/1.1', scenario: 'default', status: '200', url: 'http://10.0.0.5:8080/api/items' };
  const t0 = Date.UTC(2026, 10, 25, 12);
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = 0; i < n; i++) {
    const time = new Date(t0 + Math.floor(i * 0.3)).toISOString().replace('Z', '123456+00:00');
    const ok = rnd() > 0.01;
    const t = { ...tags, expected_response: String(ok), status: ok ? '200' : '503' };
    yield JSON.stringify({ metric: 'http_req_duration', type: 'Point', data: { time, value: 1 + rnd() ** 2 * 800, tags: t } });
    yield JSON.stringify({ metric: 'http_req_failed', type: 'Point', data: { time, value: ok ? 0 : 1, tags: t } });
  }
}

export async function benchK6Points(): Promise<void> {
  for (const n of [100_000, 1_000_000]) {
    const m = new Merger(1);
    const r = new K6PointReader(m);
    const split = lineSplitter((l) => r.line(l));
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    let chunk = '';
    for (const line of points(n)) {
      chunk += `${line}\n`;
      if (chunk.length > 1 << 20) {
        split.push(chunk);
        chunk = '';
      }
    }
    split.push(chunk);
    split.end();
    r.end();
    const s = (performance.now() - t0) / 1000;
    const heap1 = process.memoryUsage().heapUsed;
    console.log(`k6 points: ${n.toLocaleString()} requests (${r.failures.toLocaleString()} failed) read into the merger in ${s.toFixed(2)} s (${((s / n) * 1e6).toFixed(2)} µs/request, generating the lines included); heap delta ${((heap1 - heap0) / 1e6).toFixed(1)} MB`);
  }
}
