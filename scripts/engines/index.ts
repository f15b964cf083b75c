/**
 * The registry of engine descriptions: the only place that maps an engine name to its description.
 * Adding an engine = one file beside this one + one line here (and its ports in stacks/engines.ts).
 */
import type { EngineName } from '../../stacks/engines';
import { UsageError } from '../core/errors';
import type { HostKind } from '../core/tuning';
import { artillery } from './artillery';
import { versionProblem } from './common';
import { jmeter } from './jmeter';
import { k6 } from './k6';
import { locust } from './locust';
import { ngrinder } from './ngrinder';
import type { EngineSpec } from './types';

export const ENGINE_SPECS: Partial<Record<EngineName, EngineSpec>> = { locust, artillery, jmeter, k6, ngrinder };

export function engineSpec(name: EngineName): EngineSpec {
  const spec = ENGINE_SPECS[name];
  if (!spec) throw new UsageError(`engine (${name}) has no install description in this version of loadfleet: use one of ${Object.keys(ENGINE_SPECS).join(', ')}`);
  return spec;
}

/**
 * The engine and version a config asks for on a host kind, or a usage error (before any host is
 * touched) naming the field, the value and what is possible.
 */
export function resolveEngine(name: EngineName, requested: string | undefined, kind: HostKind): { spec: EngineSpec; version: string } {
  const spec = engineSpec(name);
  if (kind === 'netns' && spec.localUnsupported) {
    throw new UsageError(`engine (${name}) cannot run on the local target: ${spec.localUnsupported}. Use engine: locust or artillery locally, or the AWS target`);
  }
  const version = requested ?? spec.defaultVersion[kind];
  const problem = versionProblem(spec, version, kind);
  if (problem) throw new UsageError(problem);
  return { spec, version };
}

/**
 * The engine check every command that creates something runs first (up, synth, bake): a config whose
 * engine or engineVersion install would refuse fails here as a usage error (exit 2), before a fleet,
 * a key pair or a builder exists.
 */
export function checkEngineConfig(config: { readonly engine: string; readonly engineVersion?: string; readonly engineSha256?: string }, kind: HostKind): void {
  const { spec, version } = resolveEngine(config.engine as EngineName, config.engineVersion, kind);
  // engineSha256 pins the one artifact of this version that has no published checksum (nGrinder's war): a value
  // for a version with none would be refused by install after the fleet exists — refused here instead.
  if (config.engineSha256 !== undefined) {
    const unpublished = (spec.versions[version]?.[kind] ?? []).filter((a) => !a.sha256 && !a.sha512 && a.unpublished);
    if (unpublished.length !== 1) throw new UsageError(`engineSha256 (${config.engineSha256}) is for an artifact with no published checksum, and ${spec.name} ${version} has ${unpublished.length === 0 ? 'none (every artifact has a pinned checksum): remove engineSha256' : `${unpublished.length}: this version cannot take one value`}`);
  }
}
