/** The local target: the same pipeline on network-namespace hosts of this machine. */
import type { EnvContext } from '../adapters/context';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { LocalHosts, requireLocalSupport } from '../adapters/local-hosts';
import { confirmChange } from '../adapters/prompt';
import { runSteps } from '../adapters/progress';
import { engineOf } from '../../stacks/engines';
import type { FleetOutputs } from '../core/env-record';
import { fanout, hostsFailed } from '../core/fanout';
import { planLocal } from '../core/local-plan';
import { describePlan } from '../core/summary';
import { DEFAULT_TIMING } from '../core/timing';
import { ExternalError, UsageError } from '../core/errors';
import { withInterrupts } from './signals';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { machineNetworks } from '../adapters/machine';
import { freeLocalSubnet, overlapping } from '../core/init';

/**
 * Ctrl-C, SIGTERM or a hang-up stops the up between hosts and takes the failure path: a first up removes
 * what it made (host inits, namespaces, bridge) and the record says `down`; a re-up keeps the running fleet.
 */
export async function localUp(ctx: EnvContext, opts: { yes: boolean; quiet: boolean; expiresAt: string; fresh: boolean; later?: string }): Promise<FleetOutputs> {
  // The local target's own words on Ctrl-C (issue 22.11): no terraform here.
  const stopping = `stopping between hosts${opts.fresh ? ', then removing the hosts, namespaces and bridge this up made' : ''}…`;
  return withInterrupts((signal) => localUpSteps(ctx, opts, signal), { later: opts.later, stopping });
}

async function localUpSteps(ctx: EnvContext, opts: { yes: boolean; quiet: boolean; expiresAt: string; fresh: boolean }, signal: AbortSignal): Promise<FleetOutputs> {
  const stopped = () => {
    if (signal.aborted) throw new ExternalError(`up was ${String((signal.reason as Error)?.message ?? 'interrupted')}`);
  };
  const loaded = ctx.loaded!;
  const { config } = loaded;
  const { envDir } = ctx;
  await requireLocalSupport(config.sshUser);
  const plan = planLocal(config);
  const hosts = new LocalHosts(envDir.localDir);
  await refuseOverlappingSubnet(ctx, hosts);
  const knownHosts = new KnownHosts(envDir.knownHosts);
  const previous = await envDir.readRecord();
  let outputs: FleetOutputs | undefined;
  await runSteps(
    [
      {
        title: 'Confirm',
        skip: opts.yes,
        run: () => confirmChange(`Create ${describePlan(config, `local hosts on ${config.local.subnet}`)}?`, { yes: opts.yes, verb: 'up' }),
      },
      {
        title: `Create ${plan.hosts.length} local hosts (${config.local.subnet}, prefix ${config.local.prefix})`,
        run: async (report) => {
          await envDir.writeRecord({
            name: config.name, target: 'local', configPath: loaded.path, region: 'local', engine: config.engine,
            ttlHours: config.ttlHours, expiresAt: opts.expiresAt, status: 'creating', updatedAt: new Date().toISOString(),
          });
          let n = 0;
          // Checked after each host: create's own failure path then removes what a first up made.
          const created = await hosts.create(plan, loaded.publicKey, config.sshUser, (h, kept) => {
            report(`${++n}/${plan.hosts.length} ${h.name} ${h.ip}${kept ? ' (running, kept)' : ''}`);
            stopped();
          });
          // The keys were generated here: pin them before first contact (no trust-on-first-use needed).
          const known = await knownHosts.load();
          for (const c of created) if (!(known.get(c.plan.ip) ?? []).includes(c.hostKey)) await knownHosts.forget(c.plan.ip);
          await knownHosts.pin(created.map((c) => ({ host: c.plan.ip, key: c.hostKey })));
        },
      },
      {
        title: 'Wait for a real SSH login on every host',
        run: async (report) => {
          stopped();
          const timing = { ...DEFAULT_TIMING, connectAttempts: 12, connectBackoffMs: 100, connectBackoffMaxMs: 2_000 };
          const results = await fanout(
            plan.hosts.map((h) => ({ name: h.name, address: h.ip, via: h.private ? plan.hosts.find((c) => c.role === 'controller')!.ip : undefined })),
            (h) => connectSsh(h.address, { user: config.sshUser, privateKeyPath: loaded.privateKeyPath, knownHosts, timing, via: h.via }),
            async (s) => (await s.exec('true')).code,
            { timing, sleep: (ms) => abortableSleep(ms, signal), onProgress: (p) => report(`${p.done}/${p.total} logged in, ${p.failed} failed`) },
          );
          const failed = results.filter((r) => !r.ok || r.value !== 0);
          if (failed.length > 0) {
            throw hostsFailed(failed, `local hosts did not accept a login: ${failed.map((r) => `${r.host}: ${r.error ?? `exit ${r.value}`}`).join('; ')}`);
          }
        },
      },
      {
        title: 'Write outputs',
        run: async () => {
          stopped();
          const engine = engineOf(config.engine);
          const controller = plan.hosts.find((h) => h.role === 'controller')!;
          outputs = {
            env: config.name, target: 'local', engine: config.engine, expiresAt: opts.expiresAt, sshUser: config.sshUser,
            // A private host has no address the machine can reach (issue 18): no "public" IP, the door is the controller.
            hosts: plan.hosts.map((h) => ({ role: h.role, group: h.group, name: h.name, id: h.netns, publicIp: h.private ? '' : h.ip, privateIp: h.ip })),
            master: engine.masterPort === null ? null : { address: controller.ip, port: engine.masterPort },
            // No NAT on the local target: the controller routes, so a target sees the private agents' own addresses.
            ...(plan.privateNet ? { egress: { kind: 'routed', ips: plan.hosts.filter((h) => h.private && h.role === 'agent').map((h) => h.ip) } } : {}),
          };
          await envDir.writeOutputs(outputs);
          await envDir.writeRecord({ ...(await envDir.readRecord())!, status: 'up', updatedAt: new Date().toISOString() });
        },
      },
    ],
    { quiet: opts.quiet },
  ).catch(async (e) => {
    // A re-up with a different plan replaced the old hosts first: then nothing of them is left to keep.
    const running = Object.keys(await hosts.pids().catch(() => ({}))).length > 0;
    if (opts.fresh || !running) {
      // Nothing is left running on a failed first up.
      await hosts.destroy().catch(() => undefined);
      await envDir.removeOutputs();
      const record = await envDir.readRecord();
      if (record) await envDir.writeRecord({ ...record, status: 'down', updatedAt: new Date().toISOString() });
    } else {
      // A failed re-up never takes the running fleet down with it: the record goes back to what it was.
      if (previous) await envDir.writeRecord({ ...previous, updatedAt: new Date().toISOString() });
      process.stderr.write(`loadfleet: env ${config.name} was already up: its running hosts were kept; fix the cause and run "loadfleet up" again, or "loadfleet down" to remove them\n`);
    }
    throw e;
  });
  return outputs!;
}

/**
 * local.subnet must not overlap any network of this machine but this env's own bridge: another env's hosts on
 * an overlapping range would answer this env's logins (issue 22). Refused before anything is made, exit 2,
 * naming the link (and the env whose bridge it is, when it lives in the same home) and a free range.
 */
async function refuseOverlappingSubnet(ctx: EnvContext, hosts: LocalHosts): Promise<void> {
  const { config } = ctx.loaded!;
  const own = await hosts.recordedBridge();
  const nets = await machineNetworks();
  const clash = nets.filter((n) => n.link !== own && overlapping(config.local.subnet, [n.cidr]).length > 0);
  if (clash.length === 0) return;
  const owners = new Map<string, string>();
  for (const name of await fs.readdir(ctx.settings.home).catch(() => [] as string[])) {
    if (name === ctx.envDir.name) continue;
    const bridge = await new LocalHosts(path.join(ctx.settings.home, name, 'local')).recordedBridge().catch(() => undefined);
    if (bridge) owners.set(bridge, name);
  }
  const links = [...new Set(clash.map((c) => c.link))];
  const what = links.map((l) => {
    const cidrs = [...new Set(clash.filter((c) => c.link === l).map((c) => c.cidr))].join(', ');
    const env = owners.get(l);
    return `${cidrs} on ${l}${env ? ` (the bridge of env "${env}" in ${ctx.settings.home})` : /br0$/.test(l) ? ' (the bridge of another local env, perhaps from another folder)' : ''}`;
  });
  let free = '';
  try {
    free = `, e.g. local.subnet: ${freeLocalSubnet(nets.filter((n) => n.link !== own).map((n) => n.cidr))} (free now)`;
  } catch {
    /* no suggestion */
  }
  throw new UsageError(`local.subnet (${config.local.subnet}) overlaps ${what.join('; ')}: this env's logins would land on those hosts. Give env ${config.name} a range of its own${free}, or take the other env down first`);
}

/** A wait between login attempts that ends at once on Ctrl-C. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => (signal.removeEventListener('abort', onAbort), resolve()), ms);
    const onAbort = () => (clearTimeout(t), reject(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function localDown(ctx: EnvContext, opts: { yes: boolean; quiet: boolean }): Promise<void> {
  const { envDir, record } = ctx;
  await requireLocalSupport();
  let removed = 0;
  await runSteps(
    [
      { title: 'Confirm', skip: opts.yes, run: () => confirmChange(`Remove the local hosts of env ${envDir.name}?`, { yes: opts.yes, verb: 'down' }) },
      { title: 'Remove local hosts and prove nothing is left', run: async () => void (removed = (await new LocalHosts(envDir.localDir).destroy()).hosts) },
    ],
    { quiet: opts.quiet },
  );
  await envDir.removeOutputs();
  if (record) await envDir.writeRecord({ ...record, status: 'down', updatedAt: new Date().toISOString() });
  process.stdout.write(opts.quiet ? `${JSON.stringify({ env: envDir.name, status: 'down', removedHosts: removed })}\n` : `env ${envDir.name}: ${removed} local hosts removed; no process, namespace, link or mount left.\n`);
}
