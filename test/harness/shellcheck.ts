import { execaSync } from 'execa';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireTool } from './tools';

export interface ShellScript {
  /** Shown in failures: which engine, role, kind and part rendered it. */
  readonly label: string;
  readonly text: string;
  /** The shell that runs it: POSIX sh on EC2 (bash as sh on Amazon Linux), dash on the local target (Debian). @default sh */
  readonly dialect?: 'sh' | 'dash';
}

/**
 * Runs shellcheck over all scripts (one run per dialect) and returns its warnings and errors per label;
 * empty when all pass. Its info/style notes are advice and not reported. A missing shellcheck fails
 * loudly (requireTool), it never skips.
 */
export function shellcheck(scripts: readonly ShellScript[]): Record<string, string> {
  requireTool('shellcheck', 'apt-get install shellcheck');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loadfleet-shellcheck-'));
  try {
    const files = scripts.map((s, i) => {
      const file = path.join(dir, `${String(i).padStart(3, '0')}.sh`);
      fs.writeFileSync(file, s.text);
      return file;
    });
    const out: Record<string, string> = {};
    for (const dialect of ['sh', 'dash'] as const) {
      const mine = files.filter((_, i) => (scripts[i]!.dialect ?? 'sh') === dialect);
      if (mine.length === 0) continue;
      const r = execaSync('shellcheck', [`--shell=${dialect}`, '--severity=warning', '--format=gcc', ...mine], { reject: false });
      if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`shellcheck failed to run (exit ${r.exitCode}): ${r.stderr}`);
      for (const line of String(r.stdout).split('\n').filter(Boolean)) {
        const i = files.findIndex((f) => line.startsWith(`${f}:`));
        const label = i >= 0 ? scripts[i]!.label : 'unknown';
        out[label] = `${out[label] ?? ''}${line.slice(i >= 0 ? files[i]!.length : 0)}\n`;
      }
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
