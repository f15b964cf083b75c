/** Small sh building blocks shared by the monitoring install scripts. Pure text. */

/** Single-quoted for sh. */
export function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * sh that writes `content` to `path` only when it differs (temp file + rename, so a reader never sees
 * half a file) and prints "changed <path>" when it did.
 */
export function putFile(path: string, content: string, mode = '0644'): string {
  let tag = 'LOADFLEET_EOF';
  while (content.split('\n').includes(tag)) tag += '_';
  return [
    `mkdir -p "$(dirname ${q(path)})"`,
    `cat > ${q(`${path}.loadfleet-tmp`)} <<'${tag}'`,
    content.endsWith('\n') ? content.slice(0, -1) : content,
    tag,
    `if [ -f ${q(path)} ] && cmp -s ${q(`${path}.loadfleet-tmp`)} ${q(path)}; then rm -f ${q(`${path}.loadfleet-tmp`)}; else chmod ${mode} ${q(`${path}.loadfleet-tmp`)} && mv ${q(`${path}.loadfleet-tmp`)} ${q(path)} && echo ${q(`changed ${path}`)}; fi`,
  ].join('\n');
}

/**
 * sh that installs one binary from a pinned, checksummed release tarball (EC2), unless `bin --version`
 * already reports the version. The architecture is read on the host; the checksum is checked before
 * anything is unpacked.
 */
export function installTarball(opts: {
  name: string;
  version: string;
  artifacts: Readonly<Record<'amd64' | 'arm64', { url: string; sha256: string }>>;
  /** binaries inside the tarball's top folder → where they go */
  binaries: Readonly<Record<string, string>>;
  versionOf: string;
}): string {
  const [firstBin] = Object.values(opts.binaries);
  const copy = Object.entries(opts.binaries)
    .map(([inner, dest]) => `install -m 0755 "$tmp/${opts.name}-${opts.version}.linux-$arch/${inner}" ${q(dest)}`)
    .join('\n  ');
  return `case "$(uname -m)" in
  x86_64) arch=amd64; sha=${opts.artifacts.amd64.sha256}; url=${q(opts.artifacts.amd64.url)} ;;
  aarch64) arch=arm64; sha=${opts.artifacts.arm64.sha256}; url=${q(opts.artifacts.arm64.url)} ;;
  *) echo "${opts.name}: no pinned build for architecture $(uname -m)" >&2; exit 1 ;;
esac
have=$(${q(firstBin!)} --version 2>&1 | ${opts.versionOf} || true)
if [ "$have" != ${q(opts.version)} ]; then
  tmp=$(mktemp -d)
  curl -fsSL --retry 3 -o "$tmp/pkg.tgz" "$url" || { echo "${opts.name}: download of $url failed" >&2; rm -rf "$tmp"; exit 1; }
  echo "$sha  $tmp/pkg.tgz" | sha256sum -c - >/dev/null 2>&1 || { echo "${opts.name}: checksum of $url is not the pinned $sha: refusing to install it" >&2; rm -rf "$tmp"; exit 1; }
  tar -xzf "$tmp/pkg.tgz" -C "$tmp"
  ${copy}
  rm -rf "$tmp"
  echo ${q(`changed ${opts.name} ${opts.version}`)}
fi`;
}
