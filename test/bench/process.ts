/**
 * Whole-process figures, as a user waits for them: `node <bin> --version` against `node -e 0`, and a
 * 100-agent synth against `node -e "require('@cdktf/provider-aws')"`, each beside its baseline from the
 * same run (medians; peak RSS from a preload that reads the process's own maxRSS at exit).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { BIN } from '../harness/cli';
import { workspace } from '../harness/workspace';

const RSS = path.join(import.meta.dirname, 'rss.mjs');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One whole process: wall seconds and peak RSS in MB. */
export async function wholeProcess(args: string[], env: Record<string, string> = {}): Promise<{ s: number; mb: number }> {
  const rssFile = path.join(os.tmpdir(), `lf-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const t0 = performance.now();
  const r = await execa(process.execPath, ['--import', RSS, ...args], { env: { ...process.env, ...env, BENCH_RSS: rssFile }, reject: false, stdin: 'ignore' });
  const s = (performance.now() - t0) / 1000;
  if (r.exitCode !== 0) throw new Error(`${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  const mb = Number(fs.readFileSync(rssFile, 'utf8'));
  fs.rmSync(rssFile, { force: true });
  return { s, mb };
}

async function medianOf(n: number, f: () => Promise<{ s: number; mb: number }>): Promise<{ s: number; mb: number }> {
  const runs: { s: number; mb: number }[] = [];
  for (let i = 0; i < n; i++) runs.push(await f());
  return { s: median(runs.map((r) => r.s)), mb: median(runs.map((r) => r.mb)) };
}

export async function benchStart(): Promise<void> {
  const rounds = 9;
  // Interleaved, so that load from other processes hits both alike.
  const ours: { s: number; mb: number }[] = [];
  const base: { s: number; mb: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    ours.push(await wholeProcess([BIN, '--version']));
    base.push(await wholeProcess(['-e', '0']));
  }
  const o = median(ours.map((r) => r.s));
  const b = median(base.map((r) => r.s));
  console.log(`node <bin> --version: ${o.toFixed(3)} s (whole process, median of ${rounds}) | node -e 0: ${b.toFixed(3)} s | goal ≤ 0.12 s`);
}

export async function benchSynthProcess(): Promise<void> {
  const ws = workspace('lf-bench-synth-');
  try {
    const cfg = ws.writeConfig('f100.yaml', { name: 'bench100', agents: { count: 100 }, targets: [{ name: 'app', count: 2 }] });
    const out = path.join(ws.dir, 'out');
    const ours = await medianOf(5, () => wholeProcess([BIN, 'synth', '-c', cfg, '-o', out, '--json'], { LOADFLEET_HOME: ws.home }));
    const base = await medianOf(5, () => wholeProcess(['-e', "require('@cdktf/provider-aws')"]));
    console.log(
      `synth 100 agents, whole process: ${ours.s.toFixed(2)} s, peak ${ours.mb.toFixed(0)} MB | node -e "require('@cdktf/provider-aws')": ${base.s.toFixed(2)} s, ${base.mb.toFixed(0)} MB | ratio ${(ours.s / base.s).toFixed(2)} (goal ≤ 0.5, peak ≤ 200 MB)`,
    );
  } finally {
    ws.remove();
  }
}
