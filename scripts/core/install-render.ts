/**
 * What `loadfleet install` runs on one host, as data: the steps installOnHost executes (scripts/actions/install.ts)
 * and `install --render DIR` writes, from the same function, so the two cannot drift. Pure.
 */
import type { FleetConfig } from '../../stacks/config';
import { engineOf, type EngineName } from '../../stacks/engines';
import { hostGroups, hostName } from '../../stacks/topology';
import type { FleetOutputs, Host } from './env-record';
import { planLocal } from './local-plan';
import { installServicesScript } from './supervise';
import type { HostKind } from './tuning';
import { installContextFor } from '../engines/common';
import type { EngineSpec, InstallContext } from '../engines/types';

/** A whole engine install may download hundreds of MB (Artillery's npm tree): allow it. */
export const INSTALL_STEP_MS = 20 * 60_000;
/** Owner of the engine's services in the supervisor (monitoring uses its own). */
export const ENGINE_OWNER = 'engine';
/** The probe install runs first on every host: its core count feeds engines that run one process per core. */
export const PROBE_SCRIPT = 'nproc; hostname';

/** One script install runs as root on a host (stdin of `sh -s`, through `sudo -n` for a non-root login). */
export interface HostStep {
  /** File-name part of the step, e.g. "install-locust". */
  readonly name: string;
  /** What the step does (install's error messages name it). */
  readonly what: string;
  readonly script: string;
  readonly timeoutMs?: number;
  /** The engine's own install (its stdout may carry "loadfleet-sha256 …" records). */
  readonly engineInstall?: boolean;
}

/**
 * The steps after the probe, for a context whose cores are known: the engine's install (roles it serves), its
 * supervised services (always: with none, it removes the ones this owner left), then the engine's secret.
 */
export function engineHostSteps(spec: EngineSpec, ctx: InstallContext, secret?: { readonly value: string; readonly file: string }): HostStep[] {
  const serves = spec.roles.includes(ctx.role);
  const steps: HostStep[] = [];
  if (serves) steps.push({ name: `install-${spec.name}`, what: `installing ${spec.name} ${ctx.version}`, script: spec.installScript(ctx), timeoutMs: INSTALL_STEP_MS, engineInstall: true });
  steps.push({ name: 'services', what: `starting ${spec.name}'s supervised services`, script: installServicesScript(serves ? spec.services(ctx) : [], { hostKind: ctx.hostKind, owner: ENGINE_OWNER, nofile: ctx.nofile }) });
  if (spec.secret && secret && ctx.role === spec.secret.role) {
    steps.push({ name: 'secret', what: `setting the ${spec.secret.what}`, script: spec.secret.applyScript(secret.value, secret.file), timeoutMs: INSTALL_STEP_MS });
  }
  return steps;
}

/** The install context of one host, but its cores (probed, or given to render): one function for install and render. */
export function hostInstallBase(args: {
  readonly config: Pick<FleetConfig, 'tuning' | 'local'>; readonly outputs: FleetOutputs; readonly kind: HostKind; readonly version: string;
  readonly host: Host; readonly digests: Readonly<Record<string, string>>; readonly trustFirstDownload: boolean;
}): Omit<InstallContext, 'cores'> {
  const { cores: _cores, ...ctx } = installContextFor({
    env: args.outputs.env,
    host: args.host,
    hostKind: args.kind,
    master: args.outputs.master,
    agents: args.outputs.hosts.filter((h) => h.role === 'agent').map((h) => ({ name: h.name, privateIp: h.privateIp })),
    version: args.version,
    nofile: args.config.tuning.nofile,
    cores: 1,
    login: args.outputs.sshUser,
    cacheDir: args.config.local.engineCache,
  });
  return { ...ctx, digests: args.digests, trustFirstDownload: args.trustFirstDownload };
}

/** RFC 5737's documentation range: what render writes for EC2 addresses that exist only after `up`. */
export const PLACEHOLDER_NET = '192.0.2';

/**
 * Outputs as `up` would write them, from the config alone (render before `up`): the local target's addresses are
 * the ones `up` gives (planLocal); EC2's are placeholders from 192.0.2.0/24 (RFC 5737), in host order.
 */
export function outputsFromConfig(config: FleetConfig): FleetOutputs {
  const engine = engineOf(config.engine as EngineName);
  const base = { env: config.name, target: config.target, engine: config.engine, expiresAt: '', sshUser: config.sshUser };
  if (config.target === 'local') {
    const plan = planLocal(config);
    const controller = plan.hosts.find((h) => h.role === 'controller')!;
    return {
      ...base,
      hosts: plan.hosts.map((h) => ({ role: h.role, group: h.group, name: h.name, id: h.netns, publicIp: h.private ? '' : h.ip, privateIp: h.ip })),
      master: engine.masterPort === null ? null : { address: controller.ip, port: engine.masterPort },
    };
  }
  const hosts: Host[] = [];
  for (const g of hostGroups(config)) {
    for (let i = 0; i < g.count; i++) {
      const n = hosts.length + 1;
      if (n > 254) throw new Error(`render names at most 254 placeholder addresses in ${PLACEHOLDER_NET}.0/24; the fleet has more hosts: run "loadfleet up" first and render from its outputs`);
      hosts.push({ role: g.role, group: g.namePrefix, name: hostName(g, i), id: 'placeholder', publicIp: `${PLACEHOLDER_NET}.${n}`, privateIp: `${PLACEHOLDER_NET}.${n}` });
    }
  }
  const controller = hosts.find((h) => h.role === 'controller')!;
  return { ...base, hosts, master: engine.masterPort === null ? null : { address: controller.privateIp, port: engine.masterPort } };
}

/** A rendered file: path under the render folder, and its text. */
export interface RenderedFile {
  readonly path: string;
  readonly text: string;
}

/** A single-quoted sh word ('…', with '\'' for a quote) or a bare word, unquoted. */
function unquote(word: string): string {
  return word.startsWith("'") ? word.slice(1, -1).replace(/'\\''/g, "'") : word;
}

/**
 * The files a script writes through loadfleet's `put PATH MODE BASE64` helper (every engine, supervisor and
 * monitoring file goes through one), decoded: readable copies for an audit. The script stays what runs.
 */
export function filesWrittenBy(script: string): { path: string; mode: string; text: string }[] {
  const out: { path: string; mode: string; text: string }[] = [];
  const re = /\bput ('(?:[^']|'\\'')*'|[^\s'"$]+) '?([0-7]{3,4})'? '([A-Za-z0-9+/=]*)'/g;
  for (const m of script.matchAll(re)) {
    const path = unquote(m[1]!);
    if (!path.startsWith('/') || path.includes('$') || path.split('/').includes('..')) continue;
    out.push({ path, mode: m[2]!, text: Buffer.from(m[3]!, 'base64').toString('utf8') });
  }
  // Monitoring's helper (scripts/monitoring/shell.ts putFile): a quoted heredoc into PATH.loadfleet-tmp, then moved.
  for (const m of script.matchAll(/^cat > ('(?:[^']|'\\'')*'|[^\s'"$]+) <<'(\w+)'\n([\s\S]*?)^\2$/gm)) {
    const tmp = unquote(m[1]!);
    if (!tmp.endsWith('.loadfleet-tmp') || !tmp.startsWith('/') || tmp.split('/').includes('..')) continue;
    out.push({ path: tmp.slice(0, -'.loadfleet-tmp'.length), mode: '', text: m[3]! });
  }
  return out;
}

/** Per host the files of its steps ("NN-<step>.sh", the probe as 00), then README.md listing them. */
export function renderedFiles(args: {
  readonly engine: string; readonly version: string; readonly target: string; readonly cores: number;
  readonly addresses: 'outputs' | 'local-plan' | 'placeholders'; readonly secretNote?: string;
  readonly hosts: readonly { readonly host: Host; readonly steps: readonly HostStep[] }[];
}): RenderedFile[] {
  const files: RenderedFile[] = [];
  const index: string[] = [
    `# loadfleet install --render: ${args.engine} ${args.version} on the ${args.target} target`,
    '',
    'Each NN-<step>.sh is, byte for byte, the script install sends to that host in that order, run as root',
    '(stdin of `sh -s`; `sudo -n sh -s` for a non-root login). Nothing here was run; no host was contacted.',
    '',
    `- Cores: ${args.cores} per host (install uses what 00-probe.sh prints; change with --render-cores).`,
    `- Addresses: ${
      args.addresses === 'outputs' ? "from the env's outputs.json"
        : args.addresses === 'local-plan' ? 'the ones `up --target local` gives this config (no outputs yet)'
          : `placeholders from ${PLACEHOLDER_NET}.0/24 (RFC 5737; the env has no outputs yet: EC2 gives the real ones at up)`
    }.`,
    ...(args.secretNote ? [`- ${args.secretNote}`] : []),
    '',
    'Under <host>/files/ are readable copies of the files those scripts write (units, run files, configs), decoded',
    "from the base64 (`put PATH MODE BASE64`) or quoted heredocs (monitoring) the scripts carry them in; a path written twice: the last.",
    '',
    '| host | role | address | steps | files written |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const { host, steps } of args.hosts) {
    const names = steps.map((s, i) => `${String(i).padStart(2, '0')}-${s.name}.sh`);
    steps.forEach((s, i) => files.push({ path: `${host.name}/${names[i]}`, text: s.script }));
    const written = new Map(steps.flatMap((s) => filesWrittenBy(s.script)).map((f) => [f.path, f] as const));
    for (const f of written.values()) files.push({ path: `${host.name}/files${f.path}`, text: f.text });
    index.push(`| ${host.name} | ${host.role} | ${host.privateIp} | ${names.join(', ')} | ${written.size} |`);
  }
  files.push({ path: 'README.md', text: `${index.join('\n')}\n` });
  return files;
}
