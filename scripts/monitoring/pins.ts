/**
 * The pinned monitoring artifacts for EC2 (ami/engines/monitoring.json, beside the engines' own
 * pins): validated here, pure. A pin without a published checksum is refused as a usage error (exit 2)
 * before anything is created: loadfleet never runs an unchecked binary.
 */
import pinsJson from '../../ami/engines/monitoring.json';
import { UsageError } from '../core/errors';

export const ARCHES = ['amd64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];

export interface PinnedTarball {
  readonly name: 'node_exporter' | 'prometheus';
  readonly version: string;
  readonly artifacts: Readonly<Record<Arch, { readonly url: string; readonly sha256: string }>>;
}

export interface MonitoringPins {
  readonly nodeExporter: PinnedTarball;
  readonly prometheus: PinnedTarball;
  readonly grafana: { readonly version: string; readonly rpmRepo: string; readonly gpgKey: string };
}

const SHA256 = /^[0-9a-f]{64}$/;
const VERSION = /^\d+\.\d+\.\d+$/;

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (v && typeof v === 'object' ? (v as Raw) : {});

function tarball(file: string, raw: Raw, name: PinnedTarball['name']): PinnedTarball {
  const entry = obj(raw[name]);
  const version = String(entry.version ?? '');
  if (!VERSION.test(version)) throw new UsageError(`${file}: ${name}.version (${JSON.stringify(entry.version)}) must be an exact version like 1.7.0`);
  const artifacts = {} as Record<Arch, { url: string; sha256: string }>;
  for (const arch of ARCHES) {
    const a = obj(obj(entry.artifacts)[arch]);
    const url = String(a.url ?? '');
    const sha256 = String(a.sha256 ?? '').toLowerCase();
    if (!url.startsWith('https://') || !url.includes(version)) {
      throw new UsageError(`${file}: ${name}.artifacts.${arch}.url (${JSON.stringify(a.url)}) must be the https URL of the ${version} release`);
    }
    if (!SHA256.test(sha256)) {
      throw new UsageError(
        `${file}: ${name} ${version} for ${arch} has no known sha256 (${JSON.stringify(a.sha256 ?? 'unknown')}): add the checksum published with the release (sha256sums.txt), or pin a version whose checksum is known; loadfleet does not install unchecked binaries`,
      );
    }
    artifacts[arch] = { url, sha256 };
  }
  return { name, version, artifacts };
}

/** Parsed and checked pins, or a usage error naming the field, the value and the fix. */
export function parsePins(file: string, json: unknown): MonitoringPins {
  const raw = obj(json);
  const g = obj(raw.grafana);
  const version = String(g.version ?? '');
  if (!VERSION.test(version)) throw new UsageError(`${file}: grafana.version (${JSON.stringify(g.version)}) must be an exact version like 11.3.0`);
  const rpmRepo = String(g.rpmRepo ?? '');
  const gpgKey = String(g.gpgKey ?? '');
  if (!rpmRepo.startsWith('https://') || !gpgKey.startsWith('https://')) throw new UsageError(`${file}: grafana.rpmRepo and grafana.gpgKey must be https URLs (the repository is verified by its GPG key)`);
  return { nodeExporter: tarball(file, raw, 'node_exporter'), prometheus: tarball(file, raw, 'prometheus'), grafana: { version, rpmRepo, gpgKey } };
}

/** The shipped pins, checked (a usage error if a checksum is unknown). */
export function monitoringPins(): MonitoringPins {
  return parsePins('ami/engines/monitoring.json', pinsJson);
}
