/** Numeric command-line flags: a usage error names the flag, the value and what it must be. Pure. */
import { UsageError } from './errors';

export function positiveNumber(flag: string, v: string | undefined, fallback: number, opts: { integer?: boolean } = {}): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (opts.integer ? !Number.isInteger(n) || n < 1 : !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${flag} (${v}) must be ${opts.integer ? 'a whole number of at least 1' : 'a positive number'}`);
  }
  return n;
}

/** A number of at least 0 (e.g. a wait where 0 means "do not wait"), or the fallback when the flag is absent. */
export function nonNegativeNumber(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} (${v}) must be a number of seconds, 0 or more`);
  return n;
}
