/**
 * Runs one task on many hosts at once: bounded concurrency, connect retries with backoff for hosts
 * still booting, a timeout per step, and every host finishes whatever the others do. The world is
 * reached only through the `connect` port, so this is tested with real sshd hosts and with fakes alike.
 */
import pLimit from 'p-limit';
import { backoff, DEFAULT_CONCURRENCY, DEFAULT_TIMING, type Timing } from './timing';
import { table } from './summary';
import { EXIT, ExternalError, exitCodeFor, UsageError, ThresholdError, WrappedError } from './errors';

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SshSession {
  exec(command: string, opts?: { stdin?: string; timeoutMs?: number }): Promise<ExecResult>;
  close(): void;
}

/** Thrown by `connect` for a failure that retrying cannot fix (wrong key, changed host key). */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

export class StepTimeoutError extends Error {
  constructor(step: string, ms: number) {
    super(`${step} timed out after ${Math.round(ms / 1000)} s`);
    this.name = 'StepTimeoutError';
  }
}

export interface FanoutHost {
  readonly name: string;
  readonly address: string;
}

export interface HostResult<T> {
  readonly host: string;
  readonly address: string;
  readonly ok: boolean;
  readonly value?: T;
  readonly error?: string;
  /** The exit code the host's error stands for (1 the host or SSH said no, 2 bad input, 70 a bug). */
  readonly exitCode?: number;
  readonly attempts: number;
  readonly ms: number;
}

export interface FanoutProgress {
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  readonly inFlight: number;
}

export interface FanoutOptions {
  readonly concurrency?: number;
  readonly timing?: Timing;
  readonly onProgress?: (p: FanoutProgress) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Races a promise against a timer; the caller closes the session when it loses. */
export async function withTimeout<T>(p: Promise<T>, ms: number, step: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new StepTimeoutError(step, ms)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export async function fanout<H extends FanoutHost, T>(
  hosts: readonly H[],
  connect: (host: H) => Promise<SshSession>,
  task: (session: SshSession, host: H, connectAgain: () => Promise<SshSession>) => Promise<T>,
  opts: FanoutOptions = {},
): Promise<HostResult<T>[]> {
  const timing = opts.timing ?? DEFAULT_TIMING;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const limit = pLimit(opts.concurrency ?? DEFAULT_CONCURRENCY);
  const progress = { total: hosts.length, done: 0, failed: 0, inFlight: 0 };
  const report = () => opts.onProgress?.({ ...progress });

  const connectWithRetry = async (host: H): Promise<{ session: SshSession; attempts: number }> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return { session: await connect(host), attempts: attempt + 1 };
      } catch (e) {
        if (e instanceof PermanentError || attempt + 1 >= timing.connectAttempts) {
          throw Object.assign(e as Error, { attempts: attempt + 1 });
        }
        await sleep(backoff(attempt, timing));
      }
    }
  };

  return Promise.all(
    hosts.map((host) =>
      limit(async (): Promise<HostResult<T>> => {
        const t0 = Date.now();
        progress.inFlight++;
        report();
        let attempts = 0;
        const sessions: SshSession[] = [];
        try {
          const first = await connectWithRetry(host);
          attempts = first.attempts;
          sessions.push(first.session);
          const again = async () => {
            const s = (await connectWithRetry(host)).session;
            sessions.push(s);
            return s;
          };
          const value = await task(first.session, host, again);
          progress.done++;
          return { host: host.name, address: host.address, ok: true, value, attempts, ms: Date.now() - t0 };
        } catch (e) {
          progress.failed++;
          const err = e as Error & { attempts?: number };
          return { host: host.name, address: host.address, ok: false, error: err.message, exitCode: hostExitCode(e), attempts: err.attempts ?? attempts, ms: Date.now() - t0 };
        } finally {
          for (const s of sessions) s.close();
          progress.inFlight--;
          report();
        }
      }),
    ),
  );
}

/**
 * What one host's failure stands for. SSH and the host report through plain Errors (ssh2's channel and
 * socket errors, PermanentError, StepTimeoutError): those are "the host said no" (1). A UsageError is the
 * user's input (2), and a TypeError or the like is our bug (70): never reported as a host that said no.
 */
export function hostExitCode(err: unknown): number {
  if (err instanceof UsageError || err instanceof ThresholdError || err instanceof WrappedError || err instanceof ExternalError) return exitCodeFor(err);
  if (err instanceof Error && err.name === 'ConfigError') return EXIT.usage;
  if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError || err instanceof EvalError) return EXIT.internal;
  return EXIT.external;
}

/** The worst kind among the failed hosts: a bug (70) over bad input (2) over a threshold (3) over "a host said no" (1). */
export function worstExitCode(results: readonly HostResult<unknown>[]): number {
  const rank = (c: number) => [EXIT.internal, EXIT.usage, EXIT.threshold, EXIT.external].indexOf(c as 1);
  let worst: number = EXIT.ok;
  for (const r of results) {
    if (r.ok) continue;
    const c = r.exitCode ?? EXIT.external;
    if (worst === EXIT.ok || (rank(c) >= 0 && rank(c) < rank(worst))) worst = c;
  }
  return worst;
}

/** The error an action throws for failed hosts: an ExternalError when every host merely said no, else one that keeps the worst kind. */
export function hostsFailed(results: readonly HostResult<unknown>[], message: string): Error {
  const code = worstExitCode(results);
  if (code === EXIT.ok || code === EXIT.external) return new ExternalError(message);
  const worst = results.find((r) => !r.ok && r.exitCode === code);
  const detail = worst ? ` (${code === EXIT.internal ? 'a bug on ' : ''}${worst.host}: ${worst.error})` : '';
  return new WrappedError(`${message}${detail}`, undefined, code);
}

/** The per-host table printed at the end of every fan-out. */
export function resultTable<T>(results: readonly HostResult<T>[], detail: (v: T) => string): string {
  const rows = results.map((r) => [r.host, r.address, r.ok ? 'ok' : 'FAILED', String(r.attempts), `${(r.ms / 1000).toFixed(1)}s`, r.ok ? detail(r.value as T) : (r.error ?? '')]);
  return table([['HOST', 'ADDRESS', 'RESULT', 'TRIES', 'TIME', 'DETAIL'], ...rows]);
}
