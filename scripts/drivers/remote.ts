/** Small sh builders the drivers share (pure text; the drivers run them through runAsRoot). */
import * as path from 'node:path';
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
