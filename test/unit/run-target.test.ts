import { describe, expect, it } from 'vitest';
import { countServed, firstServedByClient, nginxConf, startScript, stopScript, TARGET_SERVER } from '../../scripts/run/target-server';

describe('the local target server (nginx)', () => {
  it('listens on the configured port, logs every request, keeps its pid under /run', () => {
    const c = nginxConf(8081);
    expect(c).toContain('listen 8081 reuseport');
    expect(c).toContain(`access_log ${TARGET_SERVER.accessLog} loadfleet;`);
    expect(c).toContain(`pid ${TARGET_SERVER.pid};`);
    // limit_req only applies to a location served after the rewrite phase (not `return`).
    expect(c).toMatch(/location = \/slow \{ limit_req zone=loadfleet_slow[^}]*try_files/);
  });
  it('start is idempotent (reload when running) and stop goes by the pid file', () => {
    expect(startScript(8080)).toContain(`nginx -c ${TARGET_SERVER.conf} -s reload; else nginx -c ${TARGET_SERVER.conf}; fi`);
    expect(stopScript()).toContain(`p=$(cat ${TARGET_SERVER.pid}); kill "$p"`);
  });
  it('counts served requests, optionally since an instant', () => {
    const log = '1700000000.100 200 GET / 0.001\n1700000001.500 200 GET /api/items 0.002\n\n1700000002.000 404 GET /x 0.000\n';
    expect(countServed(log)).toBe(3);
    expect(countServed(log, 1700000001)).toBe(2);
  });
  it('logs the client address last, and finds each client\'s first request as nginx read it', () => {
    expect(nginxConf(8080)).toContain("log_format loadfleet '$msec $status $request_method $request_uri $request_time $remote_addr';");
    const log = '1700000000.500 200 GET / 0.100 10.0.0.2\n1700000000.300 200 GET / 0.001 10.0.0.3\n1700000001.000 200 GET / 0.000 10.0.0.2\n';
    expect(Object.fromEntries(firstServedByClient(log))).toEqual({ '10.0.0.2': 1700000000400, '10.0.0.3': 1700000000299 });
    expect(Object.fromEntries(firstServedByClient(log, 1700000001))).toEqual({ '10.0.0.2': 1700000001000 });
  });
});
