/**
 * k6 on EC2: the official linux-amd64 release tarball (pinned sha256) on every agent. No daemon and no
 * master: `run` starts one `k6 run` per agent with its execution segment, all with the same segment
 * sequence, and collects each agent's raw output (per-instance summaries cannot be merged).
 *
 * Not obtainable on this machine (npm's `k6` is a dummy package; the Go module is AGPL and not used here),
 * so the local target refuses it.
 */
import pinsJson from '../../ami/engines/k6.json';
import { installTarballStep, OPT, pinnedArtifact, preamble, putFile, requireEc2, shQuote, systemUserStep, VAR, type EnginePins } from './ec2-steps';
import type { EngineSpec, InstallContext, ServiceSpec } from './types';

export const K6_PINS: EnginePins = pinsJson;

const USER = 'k6';
const STATE = `${VAR}/k6`;
/** Root-owned: each run's folder is root's, with an out/ subfolder the k6 user writes (issue 20.5). */
const RUNS = `${VAR}/runs/k6`;
/** The command every agent runs (a link to the pinned version's binary). */
export const K6_BIN = '/usr/local/bin/k6';

function tree(version: string): string {
  return `k6-v${version}-linux-amd64`;
}

function installScript(ctx: InstallContext): string {
  requireEc2('k6', ctx);
  const a = pinnedArtifact(K6_PINS, ctx.version, 'k6');
  const dir = `${OPT}/k6/${tree(ctx.version)}`;
  return [
    ...preamble('k6'),
    ...installTarballStep(a, `${OPT}/k6`, tree(ctx.version), 'k6'),
    `if [ "$(readlink ${K6_BIN} 2>/dev/null)" != ${shQuote(`${dir}/k6`)} ]; then ln -sfn ${shQuote(`${dir}/k6`)} ${K6_BIN}; echo "changed ${K6_BIN} -> ${dir}/k6"; fi`,
    putFile(`${OPT}/k6/VERSION`, '0644', `${ctx.version}\n`),
    `for d in ${OPT}/k6/k6-v*-linux-amd64; do [ "$d" = ${shQuote(dir)} ] || [ ! -d "$d" ] || { rm -rf "$d"; echo "changed removed $d"; }; done`,
    ...systemUserStep(USER, STATE),
    // Run folders live under a root-owned parent (issue 20.5): the k6 user owns only each run's out/ folder, so it
    // can never swap a run folder (or the folder holding them) for a link that root's own writes would follow.
    `mkdir -p ${RUNS} && chown root:root ${VAR}/runs ${RUNS} && chmod 0755 ${VAR}/runs ${RUNS}`,
    `if [ -d ${STATE}/runs ]; then rm -rf ${STATE}/runs; echo "changed removed ${STATE}/runs (run folders are now in ${RUNS})"; fi`,
    'exit 0',
    '',
  ].join('\n');
}

/** No long-running process: k6 instances live only for the duration of a run. */
function services(ctx: InstallContext): readonly ServiceSpec[] {
  requireEc2('k6', ctx);
  return [];
}

function versionScript(): string {
  return `cat ${OPT}/k6/VERSION 2>/dev/null || true\n`;
}

export const k6: EngineSpec = {
  name: 'k6',
  defaultVersion: K6_PINS.default,
  versions: K6_PINS.versions,
  localUnsupported: "k6 runs on EC2 only: it is not obtainable on this machine (npm's k6 is a dummy package; the Go module is AGPL and not used here)",
  roles: ['agent'],
  installScript,
  services,
  versionScript,
};

/** What `run` needs on each agent; scripts/run/ writes the command line itself. */
export const k6RunFacts = {
  bin: K6_BIN,
  /** Runs as this user, in its state folder. */
  user: USER,
  /** Raw, mergeable output (NDJSON points, times in ms); the per-instance summary is not mergeable. */
  resultsArgs: (runDir: string) => ['--out', `json=${runDir}/out/points.json.gz`, '--summary-mode=disabled'] as const,
  results: {
    agent: { dir: RUNS, files: '<run>/out/points.json.gz (k6 JSON output: one Point per line)', owner: USER },
  },
} as const;
