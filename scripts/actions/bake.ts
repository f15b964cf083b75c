/**
 * `loadfleet bake`: the tuning profile baked into an AMI, step by step like Packer's amazon-ebs builder.
 * Every step registers its cleanup as soon as it succeeds; on any failure or interrupt they run in
 * reverse, including an AMI still being created and its snapshots.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import type { Instance } from '@aws-sdk/client-ec2';
import type { LoadedConfig } from '../adapters/config-file';
import type { EnvDir } from '../adapters/env-dir';
import type { Ec2Port } from '../adapters/ec2';
import * as ec2x from '../adapters/bake-ec2';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { consoleHostKeys } from '../adapters/console-keys';
import { readTuningTemplates } from '../adapters/tuning-files';
import { engineOf } from '../../stacks/engines';
import { expiryFrom } from '../../stacks/deadman';
import { bakeTags, buildId, imageTags, removeKeyScript, watchdogUserData, type AmiManifest, type BakeRole, type BakeStep } from '../core/bake';
import { applyScript, compareTuning, fleetListeningPorts, parseObserved, planTuning, verifyScript, type HostKind } from '../core/tuning';
import { DEFAULT_TIMING } from '../core/timing';
import { fanout, hostsFailed } from '../core/fanout';
import { runAsRoot } from '../core/privilege';
import { bakeEngine } from './install';
import { EXIT, ExternalError, WrappedError } from '../core/errors';
import { checkEngineConfig } from '../engines/index';

export interface Endpoint {
  readonly address: string;
  readonly port?: number;
  readonly user: string;
  readonly hostKind: HostKind;
}

/** How a builder instance is reached over SSH. Default: its public IP, as the config's user, an EC2 host. */
export type ResolveEndpoint = (instance: Instance, tempKey: { publicKey: string; privateKeyPath: string }) => Promise<Endpoint>;

export interface BakeDeps {
  readonly ec2: Ec2Port;
  readonly resolveEndpoint?: ResolveEndpoint;
  /** Called before each step (progress display; tests inject faults here). */
  readonly beforeStep?: (step: BakeStep) => void | Promise<void>;
  readonly signal?: AbortSignal;
  /** Ctrl-C pressed to give up the clean-up: its waits (instance terminated, group deleted) end at once. */
  readonly abandon?: AbortSignal;
  readonly log?: (line: string) => void;
  readonly now?: () => Date;
  /** The kind of host the builder will be (default ec2; tests use a local-target builder): picks the engine's pins. */
  readonly hostKind?: HostKind;
}

export interface BakeOptions {
  readonly role: BakeRole;
  /** The builder's watchdog: it shuts down (terminates) after this many minutes. */
  readonly timeLimitMinutes: number;
  /** Polling for instance states and the image. */
  readonly pollMs: number;
  readonly imageTimeoutMs: number;
  readonly instanceTimeoutMs: number;
}

export const DEFAULT_BAKE: Omit<BakeOptions, 'role'> = { timeLimitMinutes: 60, pollMs: 5_000, imageTimeoutMs: 45 * 60_000, instanceTimeoutMs: 10 * 60_000 };

export interface BakeResult {
  readonly build: string;
  readonly amiId?: string;
  readonly removed: string[];
}

/** Failure of a bake, carrying what its cleanup removed. Keeps the cause's kind: a bug stays a bug (70). */
export class BakeError extends WrappedError {
  constructor(message: string, readonly build: string, readonly removed: string[], cause?: unknown, exitCode?: number) {
    super(message, cause, exitCode);
    this.name = 'BakeError';
  }
}

interface Cleanup {
  readonly what: string;
  readonly keepOnSuccess: boolean;
  readonly undo: () => Promise<void>;
}

export async function bake(loaded: LoadedConfig, envDir: EnvDir, opts: BakeOptions, deps: BakeDeps): Promise<BakeResult> {
  const { config } = loaded;
  const { ec2, signal } = deps;
  const log = deps.log ?? (() => undefined);
  const now = (deps.now ?? (() => new Date()))();
  const build = buildId(config.name, opts.role, now);
  // Before the key pair, group and builder: an engine/version the tune step would refuse is a usage error now.
  if (opts.role === 'agent') checkEngineConfig(config, deps.hostKind ?? 'ec2');
  const tags = bakeTags(config.name, opts.role, build, expiryFrom(now, opts.timeLimitMinutes / 60 + 1));
  // The image and its snapshots outlive the build (and the fleet): their own lifetime, if any.
  const keptTags = imageTags(config.name, opts.role, build, config.ami.ttlDays ? expiryFrom(now, config.ami.ttlDays * 24) : undefined);
  const poll = (timeoutMs: number) => ({ intervalMs: opts.pollMs, timeoutMs, signal });
  const cleanups: Cleanup[] = [];
  const removed: string[] = [];
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), `${build}-`));
  const step = async <T>(name: BakeStep, work: () => Promise<T>): Promise<T> => {
    if (signal?.aborted) throw signal.reason;
    await deps.beforeStep?.(name);
    if (signal?.aborted) throw signal.reason;
    log(`${build}: ${name}`);
    return work();
  };
  const runCleanups = async (success: boolean) => {
    const failures: string[] = [];
    for (const c of [...cleanups].reverse()) {
      if (success && c.keepOnSuccess) continue;
      try {
        await c.undo();
        removed.push(c.what);
        log(`${build}: removed ${c.what}`);
      } catch (e) {
        failures.push(`${c.what}: ${(e as Error).message}`);
      }
    }
    cleanups.length = 0;
    return failures;
  };

  let amiId: string | undefined;
  try {
    const sourceAmi = await step('source-image', async () => config.ami.id ?? (await ec2x.latestAl2023(ec2)));

    const keyFile = path.join(tmp, 'id_ed25519');
    const keyPairId = await step('key-pair', async () => {
      // Generated here; only the public half goes to AWS.
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', build, '-f', keyFile]);
      return ec2x.importKey(ec2, build, await fs.readFile(`${keyFile}.pub`, 'utf8'), tags);
    });
    cleanups.push({ what: `key pair ${keyPairId}`, keepOnSuccess: false, undo: async () => void (await ec2x.deleteKey(ec2, build)) });
    const publicKey = (await fs.readFile(`${keyFile}.pub`, 'utf8')).trim();

    const groupId = await step('security-group', () => ec2x.createSshGroup(ec2, build, config.access.sshCidrs, tags));
    cleanups.push({ what: `security group ${groupId}`, keepOnSuccess: false, undo: () => ec2x.deleteGroup(ec2, groupId, { intervalMs: opts.pollMs, timeoutMs: opts.instanceTimeoutMs, signal: deps.abandon }) });

    const instanceId = await step('instance', () =>
      ec2x.runBuilder(ec2, {
        imageId: sourceAmi, instanceType: opts.role === 'agent' ? config.agents.instanceType : (config.targets[0]?.instanceType ?? 't3.small'),
        keyName: build, groupId, userData: watchdogUserData(opts.timeLimitMinutes), tags, volumeGb: config.rootVolumeGb,
      }),
    );
    cleanups.push({ what: `builder instance ${instanceId}`, keepOnSuccess: false, undo: () => ec2x.terminate(ec2, instanceId, { intervalMs: opts.pollMs, timeoutMs: opts.instanceTimeoutMs, signal: deps.abandon }) });

    await step('tune', async () => {
      const instance = await ec2x.waitInstanceState(ec2, instanceId, 'running', poll(opts.instanceTimeoutMs));
      const resolve = deps.resolveEndpoint ?? defaultEndpoint(config.sshUser);
      const ep = await resolve(instance, { publicKey, privateKeyPath: keyFile });
      const plan = planTuning(opts.role, { nofile: config.tuning.nofile, nproc: config.tuning.nproc, engine: engineOf(config.engine), hostKind: ep.hostKind, reservedPorts: fleetListeningPorts(config) }, await readTuningTemplates());
      const timing = { ...DEFAULT_TIMING, connectAttempts: 30, connectBackoffMs: 1_000, connectBackoffMaxMs: 10_000 };
      const known = new KnownHosts(path.join(tmp, 'known_hosts'));
      // First contact: pin the builder's keys from its console when cloud-init has printed them already.
      const consoleKeys = await consoleHostKeys(ec2, instanceId);
      if ('keys' in consoleKeys) await known.pin(consoleKeys.keys.map((key) => ({ host: ep.address, key })));
      else log(`${build}: builder host key not pinned from the console (${consoleKeys.unavailable}): trusting the key it presents on first contact`);
      // The shared fan-out engine, on one host: its connect retries wait for the builder to boot.
      const [result] = await fanout(
        [{ name: build, address: ep.address }],
        (h) => connectSsh(h.address, { user: ep.user, privateKeyPath: keyFile, knownHosts: known, timing, port: ep.port }),
        async (s1, _h, connectAgain) => {
          await runAsRoot(s1, ep.user, applyScript(plan), 'applying the tuning on the builder');
          const s2 = await connectAgain(); // a new session sees the new limits
          const v = await s2.exec('sh -s', { stdin: verifyScript(plan) });
          if (v.code !== 0) throw new ExternalError(`verification on the builder failed (exit ${v.code}): ${v.stderr}`);
          const short = compareTuning(plan, parseObserved(v.stdout)).filter((row) => !row.ok);
          if (short.length > 0) throw new ExternalError(`tuning not in effect on the builder: ${short.map((x) => `${x.setting} requested ${x.requested}, effective ${x.effective} (${x.reason})`).join('; ')}`);
          // The engine goes into agent images too (same steps as `loadfleet install`, without services).
          if (opts.role === 'agent') for (const w of (await bakeEngine(s2, ep.user, config, ep.hostKind)).warnings) log(`${build}: ${w}`);
          const rm = await s2.exec('sh -s', { stdin: removeKeyScript(publicKey) });
          if (rm.code !== 0) throw new ExternalError(`could not remove the temporary key from the builder: ${rm.stderr}`);
        },
        { timing, sleep: (ms) => ec2x.sleep(ms, signal) },
      );
      if (!result!.ok) throw hostsFailed([result!], result!.error ?? `tuning the builder ${build} failed`);
    });

    amiId = await step('create-image', async () => {
      await ec2x.stop(ec2, instanceId);
      await ec2x.waitInstanceState(ec2, instanceId, 'stopped', poll(opts.instanceTimeoutMs));
      return ec2x.createImage(ec2, instanceId, build, keptTags);
    });
    const image = amiId;
    cleanups.push({ what: `image ${image} and its snapshots`, keepOnSuccess: true, undo: async () => void (await ec2x.removeImage(ec2, image)) });

    await step('wait-image', async () => {
      const snapshots = await ec2x.pollUntil(`image ${image} becoming available`, poll(opts.imageTimeoutMs), async () => {
        const s = await ec2x.imageSnapshots(ec2, image);
        if (s.state === 'failed') throw new ExternalError(`image ${image} failed`);
        return { done: s.state === 'available', value: s.snapshots, state: s.state };
      });
      await ec2x.tagSnapshots(ec2, snapshots, keptTags);
    });

    await step('finish', async () => {
      const failures = await runCleanups(true);
      if (failures.length > 0) throw new ExternalError(`cleanup after the bake failed: ${failures.join('; ')}`);
    });

    await step('manifest', async () => {
      const file = envDir.file('amis.json');
      const manifest: AmiManifest = JSON.parse(await fs.readFile(file, 'utf8').catch(() => '{}')) as AmiManifest;
      manifest[opts.role] = { amiId: image, build, sourceAmi, region: config.region, createdAt: now.toISOString() };
      await envDir.ensure();
      await fs.writeFile(file, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    });
    return { build, amiId, removed };
  } catch (e) {
    if (amiId && !cleanups.some((c) => c.what.startsWith(`image ${amiId}`))) {
      const image = amiId;
      cleanups.push({ what: `image ${image} and its snapshots`, keepOnSuccess: false, undo: async () => void (await ec2x.removeImage(ec2, image)) });
    }
    const failures = await runCleanups(false);
    const why = signal?.aborted ? String((signal.reason as Error)?.message ?? signal.reason) : (e as Error).message;
    throw new BakeError(
      `bake ${build} failed: ${why}\ncleaned up: ${removed.join(', ') || 'nothing had been created'}${failures.length ? `\nCLEANUP FAILED (remove by hand, or: loadfleet sweep --env ${config.name}): ${failures.join('; ')}` : ''}`,
      build, removed, e, signal?.aborted ? EXIT.external : undefined,
    );
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

function defaultEndpoint(user: string): ResolveEndpoint {
  return async (instance) => {
    if (!instance.PublicIpAddress) throw new ExternalError(`builder ${instance.InstanceId} has no public IP: run the bake from inside its VPC or give the default subnet public IPs`);
    return { address: instance.PublicIpAddress, user, hostKind: 'ec2' };
  };
}
