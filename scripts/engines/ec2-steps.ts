/**
 * The sh building blocks of the JVM and binary engines on EC2 (JMeter, k6, nGrinder): the Java runtime
 * from Amazon Linux's own repository, a download checked against its pinned checksum before anything
 * is installed, files written only when their content changes, and a system user per engine.
 * Every block is idempotent and prints "changed <what>" for each change it makes. Pure: text out.
 */
import { UsageError } from '../core/errors';
import { ETC, OPT, shQuote, type PinsFile } from './common';
import type { InstallContext } from './types';

export { ETC, OPT, shQuote };
/** Engine state and raw results (per engine below it), owned by the engine's user. */
export const VAR = '/var/lib/loadfleet';

/** The pins file of an engine as it sits in ami/engines/<engine>.json. */
export type EnginePins = PinsFile;

export function pinsFile(engine: string): string {
  return `ami/engines/${engine}.json`;
}

/** Every EC2 artifact of `version` has a checksum, or none is published and its sha256 comes from the user or the env's record. */
function pinned(pins: EnginePins, version: string): boolean {
  const artifacts = pins.versions[version]?.ec2 ?? [];
  return artifacts.length > 0 && artifacts.every((a) => Boolean(a.sha256 || a.sha512 || a.unpublished));
}

/** Why `version` cannot be installed on EC2 (exit 2 material), or undefined when every artifact is pinned. */
export function checksumProblem(pins: EnginePins, version: string): string | undefined {
  if (pinned(pins, version)) return undefined;
  const known = Object.keys(pins.versions).filter((v) => pinned(pins, v));
  return `no known checksum for ${pins.engine} ${version}: add one in ${pinsFile(pins.engine)} (versions with a pinned checksum: ${known.length ? known.join(', ') : 'none'})`;
}

type PinnedArtifact = EnginePins['versions'][string]['ec2'][number] & { readonly algo: 'sha256' | 'sha512'; readonly digest: string };

/**
 * The one pinned artifact `name` of a version, or a UsageError saying where to pin it. An artifact pinned
 * `unpublished` (no checksum exists upstream) takes `given` (the user's engineSha256 or the env's record of the
 * first download); without it: undefined when `trustFirst`, else a UsageError naming both ways out.
 */
export function pinnedArtifact(pins: EnginePins, version: string, name: string): PinnedArtifact;
export function pinnedArtifact(pins: EnginePins, version: string, name: string, given: string | undefined, trustFirst: boolean): PinnedArtifact | (EnginePins['versions'][string]['ec2'][number] & { readonly algo: 'sha256'; readonly digest: undefined });
export function pinnedArtifact(pins: EnginePins, version: string, name: string, given?: string, trustFirst = false) {
  const problem = checksumProblem(pins, version);
  if (problem) throw new UsageError(problem);
  const a = pins.versions[version]!.ec2.find((x) => x.name === name);
  if (!a) throw new UsageError(`${pinsFile(pins.engine)} pins no artifact "${name}" for ${pins.engine} ${version}: add it`);
  if (a.sha512) return { ...a, algo: 'sha512', digest: a.sha512 };
  if (a.sha256) return { ...a, algo: 'sha256', digest: a.sha256 };
  if (given) return { ...a, algo: 'sha256', digest: given };
  if (trustFirst) return { ...a, algo: 'sha256', digest: undefined };
  throw new UsageError(unpublishedProblem(pins.engine, version, a));
}

/** What to do about an artifact whose checksum nobody publishes. */
export function unpublishedProblem(engine: string, version: string, a: { readonly name: string; readonly url: string; readonly unpublished?: string }): string {
  return `${engine} ${version}: ${a.name} (${a.url}) has no published checksum (${a.unpublished ?? 'none known'}). Give its sha256 as engineSha256 in the config (download it once, compare with a copy you trust, sha256sum it), or run "loadfleet install --trust-first-download" to accept the controller's first download and record its sha256 in the env folder (every later install must match it)`;
}

/** The stdout line an install step prints for a download it trusted on first use: install records it. */
export const TRUSTED_DIGEST_LINE = /^loadfleet-sha256 ([A-Za-z0-9._-]+) ([0-9a-f]{64})$/;

/** Those lines of an install's stdout → artifact name → sha256. */
export function trustedDigests(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = TRUSTED_DIGEST_LINE.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Downloads `url` once without a checksum to check against (trust on first use), installs it at `dest` and
 * prints its sha256 as "loadfleet-sha256 NAME HEX" — install records it in the env folder, and every later
 * install passes it back as the pinned digest (installFileStep). A file already there from an earlier
 * trusted download is kept: its recorded digest is printed again.
 */
export function trustFirstFileStep(a: { readonly name: string; readonly url: string }, dest: string): string[] {
  const marker = `${dest}.sha256`;
  return [
    `if [ ! -f ${shQuote(dest)} ] || [ ! -s ${shQuote(marker)} ]; then`,
    `  mkdir -p "$(dirname ${shQuote(dest)})"`,
    `  tmp=$(mktemp ${shQuote(`${dest}.download.XXXXXX`)})`,
    `  trap 'rm -f "$tmp"' EXIT`,
    `  curl -fsSL --retry 5 --retry-delay 3 --connect-timeout 20 -o "$tmp" ${shQuote(a.url)} || fail ${shQuote(`download of ${a.url} failed`)}`,
    `  chmod 0644 "$tmp"`,
    `  got=$(sha256sum "$tmp" | cut -d" " -f1)`,
    `  mv -f "$tmp" ${shQuote(dest)}; trap - EXIT`,
    `  printf '%s\\n' "$got" > ${shQuote(marker)}`,
    `  echo "changed installed ${dest} (no published checksum: trusted on first download, sha256 $got)"`,
    'fi',
    `echo "loadfleet-sha256 ${a.name} $(cat ${shQuote(marker)})"`,
  ];
}

/** These engines run on EC2 only; the install action refuses them on the local target before any host is touched. */
export function requireEc2(engine: string, ctx: Pick<InstallContext, 'hostKind'>): void {
  if (ctx.hostKind !== 'ec2') throw new UsageError(`${engine} runs on EC2 only: the local target cannot run it (see README, "JMeter, k6 and nGrinder (AWS only)")`);
}

/**
 * Start of every install script: strict mode, fail() naming the engine, put PATH MODE B64 which writes
 * a file atomically only when its content differs (prints "changed PATH" and sets put_changed=1 then),
 * and fetch_verified URL ALGO DIGEST OUT which removes the download and stops on a checksum mismatch.
 */
export function preamble(engine: string, opts: { readonly fetch: boolean } = { fetch: true }): string[] {
  const lines = [
    'set -eu',
    'umask 022',
    `fail() { echo "install ${engine}: $*" >&2; exit 1; }`,
    'put() {',
    '  mkdir -p "$(dirname "$1")"',
    '  t=$(mktemp "$(dirname "$1")/.loadfleet.XXXXXX")',
    '  printf %s "$3" | base64 -d > "$t" || { rm -f "$t"; fail "cannot write $1"; }',
    '  chmod "$2" "$t"',
    '  # shellcheck disable=SC2034 # put_changed is read by the steps that react to a change (e.g. daemon-reload)',
    '  if cmp -s "$t" "$1"; then rm -f "$t"; put_changed=0; else mv -f "$t" "$1"; echo "changed $1"; put_changed=1; fi',
    '}',
  ];
  if (!opts.fetch) return lines;
  return [
    ...lines,
    'fetch_verified() {',
    '  curl -fsSL --retry 5 --retry-delay 3 --connect-timeout 20 -o "$4" "$1" || fail "download of $1 failed"',
    '  got=$("$2"sum "$4" | cut -d" " -f1)',
    '  [ "$got" = "$3" ] || { rm -f "$4"; fail "checksum mismatch for $1: expected $2 $3, got $got; nothing was installed (retry; if it persists the download is not the pinned release)"; }',
    '}',
  ];
}

/** `put` call writing `content` to `path` with `mode`. */
export function putFile(path: string, mode: string, content: string): string {
  return `put ${shQuote(path)} ${mode} ${shQuote(Buffer.from(content).toString('base64'))}`;
}

/** The stable path of the Corretto runtime the engine's services use (a link made by correttoStep). */
export function javaHome(major: 11 | 17): string {
  return `${OPT}/java-${major}`;
}

/**
 * Amazon Corretto `major` from Amazon Linux 2023's repository (dnf checks its signature), linked at
 * javaHome(major) so that units name one path whatever the package's directory is called.
 */
export function correttoStep(major: 11 | 17): string[] {
  const pkg = `java-${major}-amazon-corretto-headless`;
  return [
    `if ! rpm -q ${pkg} >/dev/null 2>&1; then`,
    `  dnf install -y -q ${pkg} >/dev/null || fail "dnf install ${pkg} failed"`,
    `  echo "changed installed ${pkg}"`,
    'fi',
    `java_bin=$(rpm -ql ${pkg} | grep '/bin/java$' | head -n 1)`,
    `[ -n "$java_bin" ] || fail "${pkg} has no bin/java"`,
    'jh=$(dirname "$(dirname "$java_bin")")',
    `if [ "$(readlink ${javaHome(major)} 2>/dev/null)" != "$jh" ]; then mkdir -p ${OPT}; ln -sfn "$jh" ${javaHome(major)}; echo "changed ${javaHome(major)} -> $jh"; fi`,
  ];
}

/** A system user without a login shell that owns `home` (the engine's state and results). */
export function systemUserStep(user: string, home: string): string[] {
  return [
    `if ! id -u ${user} >/dev/null 2>&1; then`,
    `  useradd --system --home-dir ${home} --no-create-home --shell /sbin/nologin ${user} || fail "useradd ${user} failed"`,
    `  echo "changed created user ${user}"`,
    'fi',
    `if [ ! -d ${home} ]; then mkdir -p ${home}; echo "changed created ${home}"; fi`,
    `chown ${user}: ${home}`,
  ];
}

/**
 * Downloads a pinned .tgz/.tar.gz, checks it, extracts it and moves the tree `top` into `dest` only then:
 * a failed download or a checksum mismatch leaves the host as it was. Skipped when `dest` already
 * carries the marker of this exact digest.
 */
export function installTarballStep(a: { readonly url: string; readonly algo: string; readonly digest: string }, parent: string, top: string, mustExist: string): string[] {
  const dest = `${parent}/${top}`;
  const marker = `${dest}/.loadfleet-${a.algo}`;
  return [
    `if [ "$(cat ${shQuote(marker)} 2>/dev/null)" != ${shQuote(a.digest)} ]; then`,
    `  mkdir -p ${shQuote(parent)}`,
    `  tmp=$(mktemp -d ${shQuote(`${parent}/.download.XXXXXX`)})`,
    `  trap 'rm -rf "$tmp"' EXIT`,
    `  fetch_verified ${shQuote(a.url)} ${a.algo} ${shQuote(a.digest)} "$tmp/archive"`,
    `  tar -xzf "$tmp/archive" -C "$tmp" || fail "cannot unpack ${a.url}"`,
    `  [ -e "$tmp/${top}/${mustExist}" ] || fail "${a.url} has no ${top}/${mustExist}"`,
    `  printf '%s\\n' ${shQuote(a.digest)} > "$tmp/${top}/.loadfleet-${a.algo}"`,
    `  rm -rf ${shQuote(dest)}`,
    `  mv "$tmp/${top}" ${shQuote(dest)}`,
    `  rm -rf "$tmp"; trap - EXIT`,
    `  echo "changed installed ${dest}"`,
    'fi',
  ];
}

/** Downloads one pinned file to `dest` (checked first, then moved into place); skipped when `dest` has this digest. */
export function installFileStep(a: { readonly url: string; readonly algo: string; readonly digest: string }, dest: string): string[] {
  const marker = `${dest}.${a.algo}`;
  return [
    `if [ "$(cat ${shQuote(marker)} 2>/dev/null)" != ${shQuote(a.digest)} ] || [ ! -f ${shQuote(dest)} ]; then`,
    `  mkdir -p "$(dirname ${shQuote(dest)})"`,
    `  tmp=$(mktemp ${shQuote(`${dest}.download.XXXXXX`)})`,
    `  trap 'rm -f "$tmp"' EXIT`,
    `  fetch_verified ${shQuote(a.url)} ${a.algo} ${shQuote(a.digest)} "$tmp"`,
    `  chmod 0644 "$tmp"`,
    `  mv -f "$tmp" ${shQuote(dest)}; trap - EXIT`,
    `  printf '%s\\n' ${shQuote(a.digest)} > ${shQuote(marker)}`,
    `  echo "changed installed ${dest}"`,
    'fi',
  ];
}

/** Where a role of an engine leaves its raw results, for `run` to collect. */
export interface RawResults {
  readonly dir: string;
  readonly files: string;
  readonly owner: string;
}

/**
 * A doctor check (HostCheck script) that opens TCP connections from this host to every `ip:port`;
 * last line "ok …" or "FAIL …" naming each unreachable endpoint. bash's /dev/tcp: nothing to install.
 */
export function tcpReachScript(what: string, endpoints: readonly { readonly name: string; readonly ip: string; readonly port: number }[]): string {
  return [
    'bad=""',
    'reach() { timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null || bad="$bad $1 ($2:$3)"; }',
    ...endpoints.map((e) => `reach ${shQuote(e.name)} ${e.ip} ${e.port}`),
    `if [ -n "$bad" ]; then echo "FAIL ${what}: no TCP connection to$bad"; else echo "ok ${what}: ${endpoints.length} endpoint(s) reachable"; fi`,
    '',
  ].join('\n');
}
