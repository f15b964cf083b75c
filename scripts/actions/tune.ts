import { resolveEnv, type CommonOptions } from '../adapters/context';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { jumpFor } from '../core/door';
import { readTuningTemplates } from '../adapters/tuning-files';
import { runSteps } from '../adapters/progress';
import { engineOf } from '../../stacks/engines';
import type { Role } from '../../stacks/config';
import { UsageError } from '../core/errors';
import { firstContactSteps } from './host-keys';
import { positiveNumber } from '../core/flags';
import { fanout, hostsFailed, type HostResult } from '../core/fanout';
import { table } from '../core/summary';
import { runAsRoot } from '../core/privilege';
import { applyScript, compareTuning, fleetListeningPorts, parseObserved, planTuning, verifyScript, type TuningPlan, type VerifyRow } from '../core/tuning';
import { DEFAULT_CONCURRENCY, DEFAULT_TIMING, type Timing } from '../core/timing';
import type { Host } from '../core/env-record';

/** Hosts named by name or role ("agent", "agent-3,app-1"); all when no filter. */
export function selectHosts(hosts: readonly Host[], filter: string | undefined): Host[] {
  if (!filter) return [...hosts];
  const wanted = filter.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((w) => !hosts.some((h) => h.name === w || h.role === w || h.group === w));
  if (unknown.length > 0) throw new UsageError(`--hosts names ${unknown.join(', ')}, which the env does not have: use host names (${hosts.slice(0, 3).map((h) => h.name).join(', ')}, …) or roles`);
  return hosts.filter((h) => wanted.includes(h.name) || wanted.includes(h.role) || wanted.includes(h.group));
}

export interface TuneOptions extends CommonOptions {
  readonly verifyOnly: boolean;
  readonly json: boolean;
  /** Every setting of every host in the text report, not only what falls short. */
  readonly verbose?: boolean;
  readonly concurrency?: string;
  /** Comma-separated host names or roles; default all. */
  readonly hosts?: string;
  readonly connectAttempts?: string;
  readonly connectTimeout?: string;
}


export interface HostTuning {
  readonly changed: string[];
  readonly rows: VerifyRow[];
}

export async function tuneAction(opts: TuneOptions): Promise<void> {
  const ctx = await resolveEnv(opts, true);
  const loaded = ctx.loaded!;
  const { config } = loaded;
  const outputs = await ctx.envDir.requireOutputs();
  const concurrency = positiveNumber('--concurrency', opts.concurrency, DEFAULT_CONCURRENCY, { integer: true });
  const timing: Timing = {
    ...DEFAULT_TIMING,
    connectAttempts: positiveNumber('--connect-attempts', opts.connectAttempts, DEFAULT_TIMING.connectAttempts, { integer: true }),
    readyTimeoutMs: positiveNumber('--connect-timeout', opts.connectTimeout, DEFAULT_TIMING.readyTimeoutMs / 1000, { integer: true }) * 1000,
  };
  const templates = await readTuningTemplates();
  const plans = new Map<Role, TuningPlan>();
  const planFor = (role: Role) => {
    if (!plans.has(role)) {
      plans.set(role, planTuning(role, { nofile: config.tuning.nofile, nproc: config.tuning.nproc, engine: engineOf(config.engine), hostKind: outputs.target === 'local' ? 'netns' : 'ec2', reservedPorts: fleetListeningPorts(config) }, templates));
    }
    return plans.get(role)!;
  };
  const knownHosts = new KnownHosts(ctx.envDir.knownHosts);
  const hosts = selectHosts(outputs.hosts, opts.hosts).map((h) => ({ name: h.name, address: h.publicIp || h.privateIp, role: h.role, id: h.id, ...(h.region ? { region: h.region } : {}) }));
  let results: HostResult<HostTuning>[] = [];
  let keyNotes: readonly string[] = [];
  await runSteps(
    [
      // The local target pinned its generated keys at up; EC2 hosts print theirs to the console.
      ...firstContactSteps(outputs.target, config.region, knownHosts, hosts, (n) => (keyNotes = n)),
      {
        title: `${opts.verifyOnly ? 'Verify' : 'Tune and verify'} ${hosts.length} hosts (${concurrency} at a time)`,
        run: async (report) => {
          results = await fanout(
            hosts,
            (h) => connectSsh(h.address, { user: outputs.sshUser, privateKeyPath: loaded.privateKeyPath, knownHosts, timing, via: jumpFor(outputs.hosts, h.address) }),
            async (session, h, connectAgain) => {
              const plan = planFor(h.role);
              let changed: string[] = [];
              if (!opts.verifyOnly) {
                // As root: directly for a root login, through sudo -n otherwise (ec2-user on EC2).
                const r = await runAsRoot(session, outputs.sshUser, applyScript(plan), 'applying the tuning');
                changed = r.stdout.split('\n').filter((l) => l.startsWith('changed ')).map((l) => l.slice(8));
              }
              // Limits apply to sessions opened after the change: read them through a new connection.
              const v = await (await connectAgain()).exec('sh -s', { stdin: verifyScript(plan) });
              if (v.code !== 0) throw new Error(`verification script failed (exit ${v.code}): ${v.stderr.trim()}`);
              return { changed, rows: compareTuning(plan, parseObserved(v.stdout)) };
            },
            { concurrency, timing, onProgress: (p) => report(`${p.done} done, ${p.failed} failed, ${p.inFlight} in flight of ${p.total}`) },
          );
        },
      },
    ],
    { quiet: opts.json },
  );
  const failedHosts = results.filter((r) => !r.ok);
  const shortHosts = results.filter((r) => r.ok && r.value!.rows.some((row) => !row.ok));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ env: outputs.env, hosts: results, notes: [...new Set([...plans.values()].flatMap((p) => p.notes)), ...keyNotes] }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatReport(results, { verbose: !!opts.verbose })}\n`);
    for (const note of new Set([...plans.values()].flatMap((p) => p.notes))) process.stdout.write(`note: ${note}\n`);
    for (const note of keyNotes) process.stdout.write(`note: ${note}\n`);
  }
  if (failedHosts.length > 0 || shortHosts.length > 0) {
    throw hostsFailed(
      failedHosts,
      `${failedHosts.length} host(s) failed, ${shortHosts.length} host(s) short of the requested limits` +
        (failedHosts.length > 0 ? `; rerun "loadfleet tune" to finish the failed hosts (hosts already done are left unchanged)` : ''),
    );
  }
}

/**
 * Requested vs effective per host and setting: by default only the hosts that failed and the settings that
 * fall short (one line each), then the one-line summary; `verbose` lists every setting of every host (issue 19).
 */
export function formatReport(results: readonly HostResult<HostTuning>[], opts: { verbose: boolean } = { verbose: true }): string {
  const rows: string[][] = [['HOST', 'SETTING', 'REQUESTED', 'EFFECTIVE', 'STATUS']];
  const out: string[] = [];
  let okSettings = 0;
  for (const r of results) {
    if (!r.ok) {
      rows.push([r.host, '-', '-', '-', `FAILED: ${r.error}`]);
      continue;
    }
    for (const row of r.value!.rows) {
      if (row.ok) okSettings++;
      if (!row.ok || opts.verbose) rows.push([r.host, row.setting, row.requested, row.effective, row.ok ? 'ok' : `SHORT: ${row.reason}`]);
    }
  }
  if (rows.length > 1) out.push(table(rows));
  const done = results.filter((r) => r.ok);
  const changedHosts = done.filter((r) => r.value!.changed.length > 0).length;
  const hidden = opts.verbose || okSettings === 0 ? '' : `; ${okSettings} settings ok (--verbose or --json lists every setting)`;
  out.push(`${done.length}/${results.length} hosts reached; ${changedHosts} changed, ${done.length - changedHosts} already as requested${hidden}`);
  return out.join('\n');
}
