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

/** Every EC2 artifact of `version` has a checksum. */
function pinned(pins: EnginePins, version: string): boolean {
  const artifacts = pins.versions[version]?.ec2 ?? [];
  return artifacts.length > 0 && artifacts.every((a) => Boolean(a.sha256 || a.sha512));
}

/** Why `version` cannot be installed on EC2 (exit 2 material), or undefined when every artifact is pinned. */
export function checksumProblem(pins: EnginePins, version: string): string | undefined {
  if (pinned(pins, version)) return undefined;
  const known = Object.keys(pins.versions).filter((v) => pinned(pins, v));
  return `no known checksum for ${pins.engine} ${version}: add one in ${pinsFile(pins.engine)} (versions with a pinned checksum: ${known.length ? known.join(', ') : 'none'})`;
}

/** The one pinned artifact `name` of a version, or a UsageError saying where to pin it. */
export function pinnedArtifact(pins: EnginePins, version: string, name: string): EnginePins['versions'][string]['ec2'][number] & { readonly algo: 'sha256' | 'sha512'; readonly digest: string } {
  const problem = checksumProblem(pins, version);
  if (problem) throw new UsageError(problem);
  const a = pins.versions[version]!.ec2.find((x) => x.name === name);
  if (!a) throw new UsageError(`${pinsFile(pins.engine)} pins no artifact "${name}" for ${pins.engine} ${version}: add it`);
  return a.sha512 ? { ...a, algo: 'sha512', digest: a.sha512 } : { ...a, algo: 'sha256', digest: a.sha256! };
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
