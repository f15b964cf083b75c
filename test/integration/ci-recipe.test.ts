/**
 * The README's CI recipe (Comparing runs: "A CI job …"), taken from the README as written and run as a script
 * under bash and dash. `npx` is a recorder on PATH that logs each loadfleet step and answers the exit code the
 * case asks for — the recipe's own control flow is what is under test: the job's exit code is run's (0 pass,
 * 3 regression, 4 inconclusive), a failed step stops the job before run, and down runs on every exit path.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const README = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
const RECIPE = /A CI job \(teardown on every exit path[^\n]*\n\n```sh\n([\s\S]*?)```/.exec(README)?.[1];

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-recipe-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  // The recorder: one line per call ("<verb> <args…>"), then the exit code STUB_<VERB> asks for (default 0);
  // STUB_RUN_SLEEP makes run wait (to send the job a signal meanwhile).
  fs.writeFileSync(
    path.join(dir, 'bin', 'npx'),
    `#!/bin/sh
[ "$1" = loadfleet ] || { echo "npx called without loadfleet: $*" >&2; exit 99; }
shift
echo "$*" >> "$STUB_LOG"
case "$1" in
  up) exit "\${STUB_UP:-0}" ;;
  install) exit "\${STUB_INSTALL:-0}" ;;
  doctor) exit "\${STUB_DOCTOR:-0}" ;;
  run) [ -n "\${STUB_RUN_SLEEP:-}" ] && sleep "$STUB_RUN_SLEEP"; exit "\${STUB_RUN:-0}" ;;
  down) exit 0 ;;
esac
exit 98
`,
    { mode: 0o755 },
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function job(shell: string, env: Record<string, string>, name: string) {
  const log = path.join(dir, `${name}.log`);
  fs.writeFileSync(path.join(dir, 'recipe.sh'), RECIPE!);
  const r = await execa(shell, [path.join(dir, 'recipe.sh')], { cwd: dir, reject: false, env: { PATH: `${dir}/bin:${process.env.PATH}`, STUB_LOG: log, BUILD_ID: '42', ...env }, extendEnv: false });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  return { exitCode: r.exitCode, verbs: calls.map((c) => c.split(' ')[0]), calls, stderr: r.stderr };
}

describe('the README\'s CI recipe, run as a script', () => {
  it('is in the README, as a sh block that brings the fleet up, judges against a baseline and tears down', () => {
    expect(RECIPE, 'README lacks the "A CI job (teardown on every exit path" sh block').toBeDefined();
    expect(RECIPE).toContain('--baseline last-good');
  });

  for (const shell of ['bash', 'dash']) {
    it(`${shell}: the job's exit code is run's — 0 pass, 3 regression, 4 inconclusive — and down runs last every time`, async () => {
      for (const code of [0, 3, 4]) {
        const r = await job(shell, { STUB_RUN: String(code) }, `${shell}-run-${code}`);
        expect(r.exitCode, r.stderr).toBe(code);
        expect(r.verbs).toEqual(['up', 'install', 'doctor', 'run', 'down']);
        expect(r.calls[3]).toContain('--label build-42 --baseline last-good --junit junit.xml --markdown summary.md');
      }
    });

    it(`${shell}: a failed up or doctor ends the job with its code before run, and down still runs`, async () => {
      const up = await job(shell, { STUB_UP: '1' }, `${shell}-up`);
      expect(up.exitCode).toBe(1);
      expect(up.verbs).toEqual(['up', 'down']);
      const doctor = await job(shell, { STUB_DOCTOR: '1' }, `${shell}-doctor`);
      expect(doctor.exitCode).toBe(1);
      expect(doctor.verbs).toEqual(['up', 'install', 'doctor', 'down']);
    });

    it(`${shell}: a SIGTERM to the job during run (a cancelled CI job) still runs down`, async () => {
      const log = path.join(dir, `${shell}-int.log`);
      fs.writeFileSync(path.join(dir, 'recipe.sh'), RECIPE!);
      const child = execa(shell, [path.join(dir, 'recipe.sh')], { cwd: dir, reject: false, detached: true, env: { PATH: `${dir}/bin:${process.env.PATH}`, STUB_LOG: log, BUILD_ID: '42', STUB_RUN_SLEEP: '30' }, extendEnv: false });
      const t0 = Date.now();
      while (!(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('run ')) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
      // The whole process group, as a CI runner's cancel does (SIGTERM; a SIGINT is handled alike by the recipe's
      // trap, but a test runner may start its children with SIGINT ignored, so the recorder's sleep would not end).
      process.kill(-child.pid!, 'SIGTERM');
      const r = await child;
      expect(r.exitCode === 0).toBe(false);
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(fs.readFileSync(log, 'utf8').trim().split('\n').map((c) => c.split(' ')[0])).toEqual(['up', 'install', 'doctor', 'run', 'down']);
    }, 40_000);
  }
});
