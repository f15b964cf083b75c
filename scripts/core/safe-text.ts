/**
 * Text that ends up inside other formats (ssh_config, the Ansible INI, shell command lines): control
 * characters are refused before anything is written, since a newline in a path would start a new
 * directive there (e.g. a ProxyCommand that ssh runs). Pure.
 */
import { UsageError } from './errors';

// C0 controls and DEL, plus the C1 range and the Unicode line/paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Returns the value, or throws a UsageError (exit 2) naming the field, the value and the fix. */
export function refuseControlChars(field: string, value: string): string {
  const m = CONTROL.exec(value);
  if (m) {
    const code = `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new UsageError(`${field} (${JSON.stringify(value)}) contains a control character (${code} at position ${m.index}): use a path without control characters`);
  }
  return value;
}

/** POSIX shell single-quoting. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * One ssh_config argument: double-quoted with `\` and `"` escaped (OpenSSH's argv_split), `%` doubled
 * (IdentityFile and UserKnownHostsFile expand %-tokens). Plain words stay as they are.
 */
export function sshConfigValue(s: string, opts: { percentTokens?: boolean } = {}): string {
  const v = opts.percentTokens ? s.replace(/%/g, '%%') : s;
  return /^[A-Za-z0-9_./:@+,=-]+$/.test(v) ? v : `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A word for a shell-like command line (Ansible splits ansible_ssh_common_args with shlex): quoted only when needed. */
export function shWord(s: string): string {
  return /^[A-Za-z0-9_./:@+,=%-]+$/.test(s) ? s : shQuote(s);
}

// Words the INI plugin keeps as strings as they are (literal_eval fails on them): IPv4 addresses and words
// that start with a letter, `_` or `/` (so no number), except True/False/None.
const INI_PLAIN = /^((?!(True|False|None)$)[A-Za-z_/][A-Za-z0-9_./:@+,-]*|\d{1,3}(\.\d{1,3}){3})$/;

/**
 * A string value in the Ansible INI inventory. `[group:vars]` lines are split at the first `=` and the
 * value literal_eval'd: anything but a plain word becomes a Python string literal. Host lines are split with
 * shlex first (then literal_eval'd): anything but a plain word is shell-quoted.
 */
export function ansibleIniVarValue(v: string | number): string {
  if (typeof v === 'number') return String(v);
  return INI_PLAIN.test(v) ? v : `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

export function ansibleIniHostValue(v: string): string {
  return INI_PLAIN.test(v) ? v : shQuote(v);
}
