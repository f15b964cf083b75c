/**
 * Per-generator command lines for the engines whose instances `run` starts itself (k6) or whose client it
 * drives (JMeter). Pure text; paths and ports come from the caller (the engine descriptions own them).
 */
import { k6LoadArgs, type LoadPlan } from './load';

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
}

export const K6_API_PORT = 6565;

/**
 * `k6 run --paused --address IP:6565 --execution-segment a:b --execution-segment-sequence S --out json=F`,
 * the way k6-operator starts its runners; `run` releases every instance with k6ReleaseRequest().
 */
export function k6Commands(opts: {
  readonly agents: readonly { readonly name: string; readonly privateIp: string }[];
  readonly plan: LoadPlan;
  readonly script: string;
  readonly resultsDir: string;
  readonly k6?: string;
  readonly passthrough?: readonly string[];
}): K6Instance[] {
  const n = opts.agents.length;
  const seq = segmentSequence(n);
  return segments(n).map((seg, i) => {
    const agent = opts.agents[i]!;
    const rawFile = `${opts.resultsDir}/k6-${agent.name}.json.gz`;
    return {
      agent: agent.name,
      apiAddress: `${agent.privateIp}:${K6_API_PORT}`,
      rawFile,
      argv: [
        opts.k6 ?? 'k6', 'run', '--paused', '--address', `${agent.privateIp}:${K6_API_PORT}`,
        '--execution-segment', `${seg.from}:${seg.to}`, '--execution-segment-sequence', seq,
        ...k6LoadArgs(opts.plan), '--out', `json=${rawFile}`, ...(opts.passthrough ?? []), opts.script,
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
 * `jmeter -n -t plan.jmx -R a,b -Gk=v… -X -l res.jtl`: the client receives every sample from every
 * server and writes one JTL, so its numbers are already merged. statistic_window=-1 makes the dashboard
 * use all samples, not the last 20,000.
 */
export function jmeterClientArgs(opts: {
  readonly plan: string;
  readonly servers: readonly string[];
  readonly props: Readonly<Record<string, string>>;
  readonly jtl: string;
  readonly dashboardDir?: string;
  readonly jmeter?: string;
  readonly passthrough?: readonly string[];
}): string[] {
  if (opts.servers.length === 0) throw new RangeError('jmeterClientArgs: at least one server');
  return [
    opts.jmeter ?? 'jmeter', '-n', '-t', opts.plan, '-R', opts.servers.join(','),
    ...Object.entries(opts.props).map(([k, v]) => `-G${k}=${v}`),
    '-X', '-l', opts.jtl, '-Jjmeter.reportgenerator.statistic_window=-1',
    ...(opts.dashboardDir ? ['-e', '-o', opts.dashboardDir] : []),
    ...(opts.passthrough ?? []),
  ];
}
