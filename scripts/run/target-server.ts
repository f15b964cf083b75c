/**
 * A real HTTP server on the local target's target hosts: Debian's nginx, run inside the target host's
 * namespaces (its own /etc overlay, /var/log and /run) on the target group's configured port, with an
 * access log tests count served requests from. Stopped by its PID (`stopScript`), and in any case with
 * the host: the host's PID 1 takes its PID namespace down. Pure text.
 */
import { shQuote } from '../core/supervise';

export const TARGET_SERVER = {
  dir: '/etc/loadfleet/nginx',
  conf: '/etc/loadfleet/nginx/nginx.conf',
  root: '/etc/loadfleet/nginx/www',
  pid: '/run/loadfleet-nginx.pid',
  accessLog: '/var/log/loadfleet/nginx-access.log',
  errorLog: '/var/log/loadfleet/nginx-error.log',
} as const;

/** Endpoints the demo and the tests use: a page, a small JSON API, a bigger payload, a rate-limited queue. */
export const TARGET_PATHS = ['/', '/api/items', '/static/big', '/slow'] as const;

export function nginxConf(port: number): string {
  return `# written by loadfleet: the local target's HTTP server
worker_processes 1;
pid ${TARGET_SERVER.pid};
error_log ${TARGET_SERVER.errorLog} warn;
events { worker_connections 4096; }
http {
  default_type application/octet-stream;
  # One line per served request: tests count them against the run's merged total. The client's address last
  # (fields before it keep their places): each generator's first request as the target saw it.
  log_format loadfleet '$msec $status $request_method $request_uri $request_time $remote_addr';
  access_log ${TARGET_SERVER.accessLog} loadfleet;
  keepalive_requests 100000;
  # A queue: above 20 requests/s, /slow delays requests instead of refusing them (latency that grows with load).
  limit_req_zone $server_port zone=loadfleet_slow:1m rate=20r/s;
  include ${TARGET_SERVER.dir}/conf.d/*.http.conf;
  server {
    listen ${port} reuseport backlog=4096;
    root ${TARGET_SERVER.root};
    location = / { default_type text/html; return 200 "<html><body>loadfleet target</body></html>\\n"; }
    location = /api/items { default_type application/json; return 200 '{"items":[1,2,3]}\\n'; }
    location /static/ { }
    # A file, not \`return\`: return answers in the rewrite phase, before limit_req could delay it.
    location = /slow { limit_req zone=loadfleet_slow burst=100000; default_type text/plain; try_files /slow.txt =404; }
    include ${TARGET_SERVER.dir}/conf.d/*.server.conf;
  }
}
`;
}

/** Idempotent (root): config, content, then (re)start nginx from this config; prints "nginx pid=<pid> port=<port>". */
export function startScript(port: number): string {
  const big = 'x'.repeat(64 * 1024);
  return [
    'set -eu',
    `command -v nginx >/dev/null || { echo "nginx is not installed: run scripts/setup.sh (apt-get install nginx)" >&2; exit 1; }`,
    `mkdir -p ${TARGET_SERVER.root}/static ${TARGET_SERVER.dir}/conf.d /var/log/loadfleet /var/lib/nginx`,
    `printf %s ${shQuote(Buffer.from(nginxConf(port)).toString('base64'))} | base64 -d > ${TARGET_SERVER.conf}`,
    `echo slow > ${TARGET_SERVER.root}/slow.txt`,
    `[ -s ${TARGET_SERVER.root}/static/big ] || printf %s ${shQuote(big)} > ${TARGET_SERVER.root}/static/big`,
    `if [ -s ${TARGET_SERVER.pid} ] && kill -0 "$(cat ${TARGET_SERVER.pid})" 2>/dev/null; then nginx -c ${TARGET_SERVER.conf} -s reload; else nginx -c ${TARGET_SERVER.conf}; fi`,
    `i=0; while [ ! -s ${TARGET_SERVER.pid} ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`,
    `echo "nginx pid=$(cat ${TARGET_SERVER.pid}) port=${port}"`,
  ].join('\n');
}

/** Stops nginx by the PID it wrote; no-op when not running. */
export function stopScript(): string {
  return `if [ -s ${TARGET_SERVER.pid} ]; then p=$(cat ${TARGET_SERVER.pid}); kill "$p" 2>/dev/null || true; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; rm -f ${TARGET_SERVER.pid}; echo "stopped nginx $p"; fi\n`;
}

/**
 * When the target served each client address's first request at or after an epoch second: epoch ms of the
 * response ($msec, nginx's log time) minus $request_time, i.e. when nginx read the request.
 */
export function firstServedByClient(accessLog: string, sinceEpochS = 0): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of accessLog.split('\n')) {
    const f = line.split(' ');
    const t = Number(f[0]);
    const took = Number(f[4]);
    const ip = f[5];
    if (!ip || !Number.isFinite(t) || t < sinceEpochS) continue;
    const at = Math.round((t - (Number.isFinite(took) ? took : 0)) * 1000);
    if (!out.has(ip) || at < out.get(ip)!) out.set(ip, at);
  }
  return out;
}

/** Served requests in the access log (optionally only those at or after an epoch second). */
export function countServed(accessLog: string, sinceEpochS = 0): number {
  let n = 0;
  for (const line of accessLog.split('\n')) {
    const t = Number(line.split(' ', 1)[0]);
    if (line && Number.isFinite(t) && t >= sinceEpochS) n++;
  }
  return n;
}
