/**
 * What `run` keeps beside summary.json for `runs` and `compare` (issue 17): meta.json (label, script content hash,
 * engine version, fleet shape, target) and hist/ (per-second HdrHistogram interval logs, scripts/compare/hlog.ts).
 */
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UsageError } from '../core/errors';
import { histFiles, type SecondCounts } from '../compare/hlog';
import type { RunMeta } from '../compare/verdict';

const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** --label: a name to find the run by (compare BASE CANDIDATE, run --baseline). */
export function checkLabel(label: string | undefined): string | null {
  if (label === undefined) return null;
  if (!LABEL_RE.test(label) || label === 'latest') throw new UsageError(`--label (${JSON.stringify(label)}) must be 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit, and not "latest"`);
  return label;
}

export function runMeta(p: { label: string | null; scriptText: string; engineVersion?: string; agents: number; agentType?: string; controllerType?: string; target: string; targetUrl: string; hostKind: string }): RunMeta {
  return {
    format: 'loadfleet-run-meta/1',
    label: p.label,
    scriptSha256: createHash('sha256').update(p.scriptText).digest('hex'),
    engineVersion: p.engineVersion ?? null,
    agents: { count: p.agents, instanceType: p.agentType ?? null },
    controllerType: p.controllerType ?? null,
    target: p.target,
    targetUrl: p.targetUrl,
    hostKind: p.hostKind,
  };
}

/**
 * The address the target had for this run (meta.targetAddress: shown by compare, never matched on): the URL's host
 * when it is an address, else what it resolves to now (a name behind a load balancer may change: that is why
 * compare matches on the name). null when it does not resolve.
 */
export async function resolveTargetAddress(url: string): Promise<string | null> {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
  if (isIP(host)) return host;
  return lookup(host).then((a) => a.address, () => null);
}

/**
* Writes a temp file beside `file`, then renames it over: a reader (runs, compare, a second run's --baseline)
 * sees the old file or the whole new one, never a half-written one; a file or symlink already there is replaced,
 * never written through.
 */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await fs.writeFile(tmp, text, { flag: 'wx' });
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

export async function keepRunData(runDir: string, meta: RunMeta, startedAtMs: number, perSecond: { endpoints: ReadonlyMap<string, ReadonlyMap<number, SecondCounts>>; precision: string } | undefined): Promise<void> {
  const withAddress: RunMeta = { ...meta, targetAddress: meta.targetUrl ? await resolveTargetAddress(meta.targetUrl) : null };
  await writeFileAtomic(path.join(runDir, 'meta.json'), `${JSON.stringify(withAddress, null, 2)}\n`);
  if (!perSecond) return;
  const { files, index } = histFiles(startedAtMs, perSecond.endpoints, perSecond.precision);
  const dir = path.join(runDir, 'hist');
  await fs.mkdir(dir, { recursive: true });
  for (const [name, text] of files) await fs.writeFile(path.join(dir, name), text);
  await fs.writeFile(path.join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
}
