/** Small sh builders the drivers share (pure text; the drivers run them through runAsRoot). */
import * as path from 'node:path';
import { ExternalError, UsageError } from '../core/errors';
import { shQuote } from '../core/safe-text';

/**
 * sh that writes `content` to `file` atomically (mktemp + mv, mode 0644). With mustExistDir: exits 42
 * (printing `missing`) when that folder is absent, so a driver can say "not installed" as a usage error.
 */
export function putFileScript(file: string, content: string | Buffer, mustExistDir?: string, missing?: string): string {
  const b64 = Buffer.from(content).toString('base64');
  return [
    'set -eu',
    ...(mustExistDir ? [`[ -d ${mustExistDir} ] || { echo ${shQuote(missing ?? `${mustExistDir} is missing`)} >&2; exit 42; }`] : []),
    `mkdir -p ${shQuote(path.posix.dirname(file))}`,
    `t=$(mktemp ${shQuote(path.posix.dirname(file))}/.lf.XXXXXX)`,
    `printf %s ${shQuote(b64)} | base64 -d > "$t"; chmod 0644 "$t"; mv -f "$t" ${shQuote(file)}`,
  ].join('\n');
}

/** The exit code putFileScript uses for "not installed". */
export const NOT_INSTALLED_EXIT = 42;

/**
 * Runs `step` on every host and waits for all of them (a stop must reach every host even when one fails);
 * then throws one ExternalError naming every host that failed.
 */
export async function onEveryHost<T extends { readonly host: { readonly name: string } }>(hosts: readonly T[], what: string, step: (h: T) => Promise<unknown>): Promise<void> {
  const results = await Promise.allSettled(hosts.map((h) => step(h)));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${hosts[i]!.host.name}: ${(r.reason as Error).message}`] : []));
  if (failed.length) throw new ExternalError(`${what} failed on ${failed.join('; ')}`);
}

/**
 * The catch handler of a driver's first step on a host (the push): the step's "not installed" exit becomes a
 * UsageError naming the host (run install first, exit 2); any other failure an ExternalError with its words.
 */
export function notInstalledOr(hostName: string, missing: string | ((stderr: string) => string), code = NOT_INSTALLED_EXIT) {
  return (e: Error & { result?: { code: number | null; stderr?: string } }): never => {
    if (e.result?.code === code) throw new UsageError(`${hostName}: ${typeof missing === 'string' ? missing : missing(e.result.stderr ?? '')}`);
    throw new ExternalError(e.message);
  };
}
