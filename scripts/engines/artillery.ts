/**
 * Artillery (npm `artillery`, pinned to the last release that runs on Node 20). No master, no daemon:
 * every agent is an independent generator that `loadfleet run` starts over SSH with ARTILLERY.bin.
 *
 * - EC2: Node 20 from Amazon Linux's own signed repo (dnf), the npm tarball downloaded into a staging
 *   folder, its sha512 checked against ami/engines/artillery.json, installed there with its dependencies
 *   (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1: no browser download), then moved into /opt/loadfleet.
 * - Local target (no route off the test subnet): scripts/setup.sh stages the tarball and an installed
 *   tree under /opt/loadfleet-cache; install checks the tarball's sha512 and that the tree holds the
 *   same package, then puts this host's launcher in place (staging folder, then one rename).
 */
import pins from '../../ami/engines/artillery.json';
import { artifactsOf, ETC, OPT, shQuote, verifyFn, type PinsFile } from './common';
import type { EngineSpec, InstallContext } from './types';

const PINS = pins as PinsFile;

export const ARTILLERY = {
  /** Per host: the launcher `run` calls (`artillery run …`), and the installed version beside it. */
  dir: `${ETC}/artillery`,
  bin: `${ETC}/artillery/bin/artillery`,
  versionFile: `${ETC}/artillery/VERSION`,
  /** EC2: the installed tree of a version. */
  tree: (version: string) => `${OPT}/artillery-${version}`,
} as const;

/** The installed tree a host's launcher points at. */
function treeOf(ctx: Pick<InstallContext, 'hostKind' | 'version' | 'cacheDir'>): string {
  return ctx.hostKind === 'netns' ? `${ctx.cacheDir}/artillery-${ctx.version}` : ARTILLERY.tree(ctx.version);
}

function launcher(tree: string): string {
  return `#!/bin/sh\n# written by loadfleet install: the pinned Artillery\nexec node ${shQuote(`${tree}/node_modules/artillery/bin/run`)} "$@"\n`;
}

function installScript(ctx: InstallContext): string {
  const art = artifactsOf(artillery, ctx.version, ctx.hostKind, ctx.cacheDir).find((a) => a.name === 'artillery')!;
  const tree = treeOf(ctx);
  const lines = ['set -eu', 'umask 022', verifyFn('artillery', [art]), `T=${shQuote(tree)}`, `V=${shQuote(ctx.version)}`];
  lines.push(
    // Same package in the tree as in the verified tarball: compare their package.json byte for byte.
    'same_pkg() { tar -xzOf "$1" package/package.json | cmp -s - "$T/node_modules/artillery/package.json"; }',
    'node_ok() { command -v node >/dev/null && node -e \'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>18||(a===18&&b>=16)?0:1)\'; }',
  );
  if (ctx.hostKind === 'netns') {
    lines.push(
      'node_ok || fail "node >= 18.16.1 is not on this machine: install Node 20"',
      `[ -r ${shQuote(art.url)} ] || fail "${art.url} is missing: run scripts/setup.sh on this machine (it stages the local target's engines)"`,
      `verify ${shQuote(art.url)} artillery`,
      `[ -x "$T/node_modules/artillery/bin/run" ] && same_pkg ${shQuote(art.url)} || fail "$T does not hold the verified artillery $V: run scripts/setup.sh"`,
    );
  } else {
    lines.push(
      'if ! node_ok; then dnf install -y -q nodejs20 nodejs20-npm >/dev/null || fail "dnf install nodejs20 failed"; for b in node npm npx; do [ -e /usr/bin/$b-20 ] && ln -sfn /usr/bin/$b-20 /usr/local/bin/$b; done; node_ok || fail "node 20 not usable after install"; echo "changed installed nodejs20"; fi',
      'if [ ! -e "$T/.complete" ] || ! same_pkg "$T/artillery-$V.tgz"; then',
      '  S="$T.staging"; rm -rf "$S"; mkdir -p "$S"; trap \'rm -rf "$S"\' EXIT',
      `  curl -fsSL --retry 3 -o "$S/artillery-$V.tgz" ${shQuote(art.url)} || fail "download of ${art.url} failed"`,
      '  verify "$S/artillery-$V.tgz" artillery',
      '  (cd "$S" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error --prefix "$S" "./artillery-$V.tgz" >/dev/null) || fail "npm install of the verified tarball failed"',
      // npm wrote absolute paths of the staging folder nowhere that matters (bin links are relative).
      '  touch "$S/.complete"; rm -rf "$T"; mv "$S" "$T"; trap - EXIT; echo "changed installed artillery $V in $T"',
      'fi',
    );
  }
  // This host's launcher: staged, then renamed into place in one step.
  lines.push(
    `want=$(printf %s ${shQuote(Buffer.from(launcher(tree)).toString('base64'))} | base64 -d)`,
    `if [ "$(cat ${ARTILLERY.versionFile} 2>/dev/null)" != "$V" ] || [ "$(cat ${ARTILLERY.bin} 2>/dev/null)" != "$want" ]; then`,
    `  S=${ARTILLERY.dir}.staging; rm -rf "$S"; mkdir -p "$S/bin"; printf '%s\\n' "$want" > "$S/bin/artillery"; chmod 0755 "$S/bin/artillery"`,
    '  "$S/bin/artillery" --version >/dev/null 2>&1 || { rm -rf "$S"; fail "the staged artillery does not start"; }',
    `  echo "$V" > "$S/VERSION"; rm -rf ${ARTILLERY.dir}; mv "$S" ${ARTILLERY.dir}; echo "changed ${ARTILLERY.bin} -> $V"`,
    'fi',
    'exit 0',
  );
  return `${lines.join('\n')}\n`;
}

function versionScript(): string {
  // The version of the package the launcher really runs, not only what the marker says.
  return `[ -x ${ARTILLERY.bin} ] && t=$(sed -n "s/^exec node '\\(.*\\)\\/node_modules\\/artillery\\/bin\\/run'.*/\\1/p" ${ARTILLERY.bin}) && node -p "require('$t/node_modules/artillery/package.json').version" 2>/dev/null\n`;
}

export const artillery: EngineSpec = {
  name: 'artillery',
  defaultVersion: PINS.default,
  versions: PINS.versions,
  roles: ['agent'],
  installScript,
  services: () => [],
  versionScript,
};
