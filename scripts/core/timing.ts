/** Every retry, poll and timeout interval in one place, so tests can shrink them. */
export interface Timing {
  /** SSH: attempts to connect to a host that is still booting, and the first backoff (doubles, capped). */
  readonly connectAttempts: number;
  readonly connectBackoffMs: number;
  readonly connectBackoffMaxMs: number;
  /** SSH: handshake must finish within this. */
  readonly readyTimeoutMs: number;
  /** One remote step (a script run) must finish within this. */
  readonly stepTimeoutMs: number;
  /** Local target: how long hosts may take to accept a real login after `up`. */
  readonly localBootMs: number;
}

export const DEFAULT_TIMING: Timing = {
  connectAttempts: 6,
  connectBackoffMs: 500,
  connectBackoffMaxMs: 8_000,
  readyTimeoutMs: 20_000,
  stepTimeoutMs: 120_000,
  localBootMs: 30_000,
};

/** Default fan-out width: every host of a 100+ host fleet in flight at once. */
export const DEFAULT_CONCURRENCY = 128;

export function backoff(attempt: number, t: Pick<Timing, 'connectBackoffMs' | 'connectBackoffMaxMs'>): number {
  return Math.min(t.connectBackoffMaxMs, t.connectBackoffMs * 2 ** attempt);
}

/** Sweep: rounds before giving up, and how long to wait for instances to terminate. */
export const SWEEP = { maxRounds: 10, instanceWaitSeconds: 600 } as const;

/** Progress without a terminal (CI logs): at most one line per step this often, whatever the fleet size. */
export const PROGRESS_INTERVAL_MS = 5_000;

/**
 * A status reporter that passes on at most one text per `intervalMs` (the first at once); the newest text held
 * back is handed on by `flush()` (at the end of the step, so the final count is always shown).
 */
export function throttled(emit: (text: string) => void, intervalMs: number, now: () => number = Date.now): { report: (text: string) => void; flush: () => void } {
  let last = -Infinity;
  let pending: string | undefined;
  return {
    report: (text) => {
      const t = now();
      if (t - last >= intervalMs) {
        last = t;
        pending = undefined;
        emit(text);
      } else pending = text;
    },
    flush: () => {
      if (pending !== undefined) emit(pending);
      pending = undefined;
    },
  };
}
