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

/**
 * --host: an http(s) URL without credentials. A user:password would reach every engine's command line on
 * the agents (visible to every process there in /proc/<pid>/cmdline), the run's output and its report.
 */
export function targetUrl(flag: string, v: string): string {
  const shown = v.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(v)) {
    throw new UsageError(`${flag} (${shown}) carries credentials: they would show in the engines' command lines on the hosts and in run's output; pass ${shown.replace('***@', '')} and let the script send them (e.g. an Authorization header it reads from a file shipped with it)`);
  }
  if (!/^https?:\/\/[^\s/]+/.test(v)) throw new UsageError(`${flag} (${v}) must be a URL like http://10.0.0.5:8080`);
  return v;
}
