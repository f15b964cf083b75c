/**
 * Per-generator command lines for the engines whose instances `run` starts itself (k6) or whose client it
 * drives (JMeter). Pure text; binaries, paths, ports and result flags come from the engine descriptions
 * (scripts/engines/k6.ts k6RunFacts, jmeter.ts jmeterRunFacts); this file adds the load and the segments.
 */
import { k6RunFacts } from '../engines/k6';
import { jmeterRunFacts } from '../engines/jmeter';
import { k6LoadArgs, type LoadPlan } from './load';
import { k6PrometheusOutput } from '../monitoring/engine-metrics';

// ---- k6 execution segments ----

/** One generator's share: [from, to) as fractions i/N. */
export interface Segment {
  readonly index: number;
  readonly from: string;
  readonly to: string;
}

const frac = (num: number, den: number): string => (num === 0 ? '0' : num === den ? '1' : `${num}/${den}`);

/**
 * The sequence every instance gets, identical everywhere: k6 uses it to hand out VUs and iterations so
 * that the segments' shares add up exactly (pkg/segmentation in k6-operator does the same).
 */
export function segmentSequence(n: number): string {
  return Array.from({ length: n + 1 }, (_, i) => frac(i, n)).join(',');
}

export function segments(n: number): Segment[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`segments: n (${n}) must be a whole number ≥ 1`);
  return Array.from({ length: n }, (_, i) => ({ index: i + 1, from: frac(i, n), to: frac(i + 1, n) }));
}

export interface K6Instance {
  readonly agent: string;
  /** The address the REST API listens on (the agent's private IP), so the controller can release it. */
  readonly apiAddress: string;
  readonly argv: readonly string[];
  /** Raw per-request points, ms, NDJSON (gzip by extension): merged on the controller. */
  readonly rawFile: string;
  /** Environment of `k6 run` (the Prometheus remote-write output's K6_PROMETHEUS_RW_*); empty without monitoring. */
  readonly env: Readonly<Record<string, string>>;
}

export const K6_API_PORT = 6565;
/**
 * Where each instance's REST API listens: loopback. Every call (wait, release, watch, stop) is curl on the
 * agent itself, and the API has no login: on the private address any host of the VPC could pause, scale or
 * stop the run (k6 api/v1 status PATCH).
 */
export const K6_API_HOST = '127.0.0.1';

/**
 * `k6 run --paused --address 127.0.0.1:6565 --execution-segment a:b --execution-segment-sequence S --out json=F`,
 * the way k6-operator starts its runners; `run` releases every instance with k6ReleaseRequest().
 */
export function k6Commands(opts: {
  readonly agents: readonly { readonly name: string; readonly privateIp: string }[];
  readonly plan: LoadPlan;
  readonly script: string;
  readonly runId: string;
  readonly passthrough?: readonly string[];
  /**
   * The monitoring host and env: then every instance also pushes its metrics to Prometheus (k6PrometheusOutput,
   * issue 16.9). Absent (monitoring.enabled: false): no push.
   */
  readonly monitoring?: { readonly ip: string; readonly env: string };
}): K6Instance[] {
  const n = opts.agents.length;
  const seq = segmentSequence(n);
  const runDir = `${k6RunFacts.results.agent.dir}/${opts.runId}`;
  const results = k6RunFacts.resultsArgs(runDir);
  return segments(n).map((seg, i) => {
    const agent = opts.agents[i]!;
    const push = opts.monitoring ? k6PrometheusOutput({ monitoringIp: opts.monitoring.ip, env: opts.monitoring.env, runId: opts.runId, host: agent.name }) : undefined;
    return {
      agent: agent.name,
      apiAddress: `${K6_API_HOST}:${K6_API_PORT}`,
      rawFile: results.find((a) => a.startsWith('json='))!.slice('json='.length),
      env: push?.env ?? {},
      argv: [
        k6RunFacts.bin, 'run', '--paused', '--address', `${K6_API_HOST}:${K6_API_PORT}`,
        '--execution-segment', `${seg.from}:${seg.to}`, '--execution-segment-sequence', seq,
        ...k6LoadArgs(opts.plan), ...results, ...(push?.args ?? []), ...(opts.passthrough ?? []), opts.script,
      ],
    };
  });
}

/** The release: PATCH /v1/status with paused=false (curl_start.go in k6-operator). */
export function k6ReleaseRequest(apiAddress: string): { method: 'PATCH'; url: string; headers: Record<string, string>; body: string } {
  return {
    method: 'PATCH',
    url: `http://${apiAddress}/v1/status`,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: { type: 'status', id: 'default', attributes: { paused: false } } }),
  };
}

// ---- JMeter client ----

/**
 * `jmeter -n -t plan.jmx -q props -Djava.rmi.server.hostname=IP -R a,b -Gk=v… -X -l res.jtl -e -o dir`: the
 * client receives every sample from every server and writes one JTL, so its numbers are already merged;
 * the properties file (jmeterRunFacts) sets statistic_window=-1 so the dashboard uses all samples.
 */
export function jmeterClientArgs(opts: {
  readonly version: string;
  readonly plan: string;
  readonly controllerIp: string;
  readonly servers: readonly string[];
  readonly props: Readonly<Record<string, string>>;
  readonly runDir: string;
  readonly passthrough?: readonly string[];
}): string[] {
  if (opts.servers.length === 0) throw new RangeError('jmeterClientArgs: at least one server');
  const f = jmeterRunFacts;
  return [
    f.bin(opts.version), f.nonGuiArg, '-t', opts.plan, ...f.propertiesArgs, f.clientHostnameArg(opts.controllerIp),
    ...f.remoteHostsArg(opts.servers),
    ...Object.entries(opts.props).map(([k, v]) => f.globalPropertyArg(k, v)),
    f.exitServersArg, ...f.resultsArgs(opts.runDir), ...(opts.passthrough ?? []),
  ];
}
