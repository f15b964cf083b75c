/**
 * What every engine description shares: its pins from ami/engines/<engine>.json, the version a config
 * asks for, and the sh building blocks of a verified, all-or-nothing install. Pure.
 */
import type { Artifact, EngineSpec, InstallContext, VersionPins } from './types';
import type { HostKind } from '../core/tuning';
import { shQuote } from '../core/supervise';

export { shQuote };

/** The machine's folder of staged artifacts for the local target (scripts/setup.sh fills it). */
export const DEFAULT_CACHE_DIR = '/opt/loadfleet-cache';
/** Per-host engine files (private per host on the local target, since /etc is an overlay there). */
export const ETC = '/etc/loadfleet';
/** Where EC2 installs engine trees. */
export const OPT = '/opt/loadfleet';

export interface PinsFile {
  readonly engine: string;
  readonly notes: string;
  readonly default: Readonly<Record<HostKind, string>>;
  readonly versions: Readonly<Record<string, VersionPins>>;
}

/** Why a version cannot be installed on a host kind, or undefined when it can. */
export function versionProblem(spec: Pick<EngineSpec, 'name' | 'versions' | 'defaultVersion'>, version: string, kind: HostKind): string | undefined {
  const known = Object.keys(spec.versions).filter((v) => spec.versions[v]![kind].length > 0);
  if (known.includes(version)) return undefined;
  const where = kind === 'netns' ? 'the local target' : 'EC2';
  return `engineVersion (${JSON.stringify(version)}) has no pinned checksum for ${spec.name} on ${where}: known ${known.length ? known.join(', ') : 'none'} (default ${spec.defaultVersion[kind]}); to add one, put its artifacts with their sha256/sha512 in ami/engines/${spec.name}.json`;
}

/** The artifacts of a version on a host kind; the local ones moved under `cacheDir`. */
export function artifactsOf(spec: Pick<EngineSpec, 'name' | 'versions'>, version: string, kind: HostKind, cacheDir = DEFAULT_CACHE_DIR): readonly Artifact[] {
  const pins = spec.versions[version];
  if (!pins || pins[kind].length === 0) throw new Error(`${spec.name} ${version} has no artifacts for ${kind}`);
  return pins[kind].map((a) => (kind === 'netns' && a.url.startsWith(`${DEFAULT_CACHE_DIR}/`) ? { ...a, url: `${cacheDir}${a.url.slice(DEFAULT_CACHE_DIR.length)}` } : a));
}

/** sh defining fail() and verify FILE ARTIFACT-NAME: stops with a clear error on a checksum mismatch. */
export function verifyFn(engine: string, artifacts: readonly Artifact[]): string {
  const cases = artifacts
    .filter((a) => a.sha256 || a.sha512)
    .map((a) => `    ${shQuote(a.name)}) algo=${a.sha512 ? 'sha512' : 'sha256'}; want=${a.sha512 ?? a.sha256};;`);
  return [
    `fail() { echo "install ${engine}: $*" >&2; exit 1; }`,
    'verify() {',
    '  algo=; want=',
    '  case "$2" in',
    ...cases,
    '    *) fail "no checksum pinned for $2";;',
    '  esac',
    '  got=$(${algo}sum "$1" | cut -d" " -f1)',
    '  [ "$got" = "$want" ] || fail "checksum mismatch for $1 ($2): expected $algo $want, got $got; nothing was installed (a corrupted download or cache: fetch it again)"',
    '}',
  ].join('\n');
}

/** Everything an installer is told about one host, from the config and the env's outputs only. */
export function installContextFor(args: Omit<InstallContext, 'role' | 'host'> & {
  readonly host: { readonly name: string; readonly role: InstallContext['role']; readonly privateIp: string };
}): InstallContext {
  const { host, ...rest } = args;
  return { ...rest, role: host.role, host: { name: host.name, privateIp: host.privateIp } };
}

/** "changed …" lines of an install script's output. */
export function changedLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith('changed ')).map((l) => l.slice('changed '.length).trim());
}

/**
 * Warnings an install script wrote to stderr ("… WARNING: …"): a successful step's stderr is otherwise
 * dropped, and these are the lines the user must see (e.g. an artifact installed without a pinned checksum).
 */
export function warningLines(stderr: string): string[] {
  return stderr.split('\n').map((l) => l.trim()).filter((l) => /\bWARNING:/.test(l));
}

/** `nproc; hostname` output → facts. */
export function parseProbe(stdout: string): { cores: number; hostname: string } {
  const [cores = '', hostname = ''] = stdout.trim().split('\n').map((l) => l.trim());
  const n = Number(cores);
  if (!Number.isInteger(n) || n < 1) throw new Error(`cannot read the host's core count (nproc said ${JSON.stringify(cores)})`);
  return { cores: n, hostname };
}
