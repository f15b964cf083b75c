/**
 * Generated secrets kept in the env folder (e.g. nGrinder's admin password): created once with mode
 * 0600 and reused by every later install, so a rerun never changes a password the controller already has.
 */
import * as fs from 'node:fs/promises';
import { ExternalError } from '../core/errors';

export interface Secret {
  readonly value: string;
  readonly file: string;
  /** true when this call generated and stored it. */
  readonly created: boolean;
}

/**
 * The secret in `file`, or a new one from `make()` written there with mode 0600 (exclusive create, so two
 * concurrent installs never store two different values). A file others can read is refused, not used.
 */
export async function readOrCreateSecret(file: string, make: () => string): Promise<Secret> {
  const value = make();
  if (!value || /[\r\n]/.test(value)) throw new Error('a secret must be one non-empty line');
  try {
    const h = await fs.open(file, 'wx', 0o600);
    try {
      await h.writeFile(`${value}\n`);
    } finally {
      await h.close();
    }
    return { value, file, created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ExternalError(`cannot create ${file}: ${(e as Error).message}`);
  }
  const st = await fs.stat(file);
  if ((st.mode & 0o077) !== 0) {
    throw new ExternalError(`${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}): run "chmod 600 ${file}" and rerun`);
  }
  const stored = (await fs.readFile(file, 'utf8')).trim();
  if (!stored) throw new ExternalError(`${file} is empty: remove it to generate a new secret, or write the current one into it`);
  return { value: stored, file, created: false };
}
