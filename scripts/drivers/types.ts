/**
 * The contract between `loadfleet run` (scripts/actions/run.ts: the same pipeline for every engine) and
 * the per-engine drivers beside this file (locust.ts, artillery.ts, …; listed in index.ts). A driver is
 * the part of a run that touches the engine: push the script, start every generator together, read live
 * progress, stop, pull raw results and merge them. Pure logic (load plans, merging, parsing) stays in
 * scripts/run/; drivers only orchestrate it over SSH (through runAsRoot, root or `sudo -n`).
 */
import type { EngineName } from '../../stacks/engines';
import type { FleetOutputs, Host } from '../core/env-record';
import type { SshSession } from '../core/fanout';
import type { HostKind } from '../core/tuning';
import type { LoadPlan } from '../run/load';
import type { MergedStats } from '../run/merge';
import type { SecondCounts } from '../compare/hlog';
import type { Threshold } from '../run/thresholds';

/** Intervals the tests may shrink. */
export const RUN_TIMING = { tickMs: 1000, startPollMs: 200, workersWaitMs: 90_000, stopGraceMs: 15_000, startLeadMs: 1500, selfStopGraceMs: 90_000, artilleryReadyMs: 180_000 } as const;

/** Everything `run` checked before any host is touched. */
export interface Prepared {
  readonly outputs: FleetOutputs;
  readonly kind: HostKind;
  readonly engine: EngineName;
  readonly scriptPath: string;
  readonly scriptText: string;
  readonly plan: LoadPlan;
  readonly thresholds: Threshold[];
  readonly hostUrl: string;
  /** The engine's own options, given after `--` on the command line, passed through as they are. */
  readonly passthrough: readonly string[];
}

export interface HostConn {
  readonly host: Host;
  readonly session: SshSession;
}

export interface DriverContext {
  readonly p: Prepared;
  /** The controller's session; undefined when the env has none. */
  readonly controller: HostConn | undefined;
  readonly agents: readonly HostConn[];
  /** The login user (root, or another user through `sudo -n`). */
  readonly login: string;
  readonly runId: string;
  /** The env folder on this machine (secrets such as nGrinder's admin password live there, 0600). */
  readonly envDir: string;
  /** Artillery: keep every latency too (audit of the merge). */
  readonly rawSamples?: boolean;
}

export interface Tick {
  readonly users: number;
  readonly requests: number;
  readonly failures: number;
  readonly rps: number;
  readonly failPerS: number;
  /** null when the engine measures no percentiles (nGrinder: The Grinder keeps only a mean). */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  /** Mean latency so far (ms), where the engine gives one (nGrinder, whose percentiles are null). */
  readonly mean?: number | null;
  /** Generators seen running this tick (name → first seen epoch ms is recorded by the caller). */
  readonly running: readonly string[];
  /** True when the engine finished by itself (Artillery processes exited). */
  readonly finished: boolean;
}

/** The span the load was really sent over, which rps figures divide by (not the wall time with ramp-up and stop). */
export interface SendWindow {
  readonly fromMs: number;
  readonly toMs: number;
  /** What the two ends are, for the summary ("first request → last response, over every agent"). */
  readonly basis: string;
}

export interface Collected {
  readonly stats: MergedStats;
  /**
   * The span requests were sent over; run recomputes every rps (total and endpoints) as requests ÷ its length.
   * Without it run uses the release → stop wall time and says so in the summary.
   */
  readonly sendWindow?: SendWindow;
  readonly merge: string;
  /** Per-second latency histograms per endpoint, kept as hist/*.hlog for compare (issue 17); absent when the engine gives none. */
  readonly perSecond?: { readonly endpoints: ReadonlyMap<string, ReadonlyMap<number, SecondCounts>>; readonly precision: string };
  readonly generators: { name: string; startedAtMs: number | null; rawFile: string | null; collectionError?: string }[];
  /** What the summary and the report must say about these figures (e.g. the per-second histograms could not be pulled). */
  readonly warnings?: readonly string[];
  /** Hosts that are not generators whose part failed (the controller whose master stopped answering): run exits 1 naming them. */
  readonly hostFailures?: { host: string; error: string }[];
}

export interface EngineDriver {
  /** The engine ends the test by itself (Artillery's phases): the watch waits for it, up to a grace. */
  readonly selfStopping: boolean;
  /**
   * Push the script and get every generator ready; nothing is sent to the target yet. The run's interrupt signal
   * (Ctrl-C) is passed: a driver may poll it in its waits and end early with its reason, cleaning up what it
   * wrote (optional — a driver that ignores it just finishes prepare, and run stops before the release).
   */
  prepare(signal?: AbortSignal): Promise<void>;
  /**
   * Release the load on every generator at once; returns the epoch ms of the release.
   * Ends with the signal's reason when it fires before the load is released (nothing is released after).
   */
  start(signal?: AbortSignal): Promise<number>;
  /** Called every tick with seconds since the start (stage changes happen here). */
  tick(elapsedS: number): Promise<Tick>;
  /**
   * Stop the load everywhere (idempotent, also after a failure). When the engine's controller no longer answers,
   * it stops the generators another way (over SSH, through the supervisor) rather than leave them running.
   */
  stop(): Promise<void>;
  /** Pull raw results from every host into rawDir and merge them. */
  collect(rawDir: string, startedAtMs: number, endedAtMs: number, firstSeen: Map<string, number>): Promise<Collected>;
}

/** One engine's run support: what its script must be, and its driver. */
export interface DriverModule {
  readonly engine: EngineName;
  /** What --script is for this engine, for messages ("a locustfile"). */
  readonly scriptKind: string;
  /** The run needs a controller host (a master or a client runs there). */
  readonly needsController: boolean;
  /** Checks the script with the engine's own rules before any load starts: UsageError (exit 2) when it cannot load. */
  validate(file: string, text: string): Promise<void>;
  /**
   * Checks the engine's own options (given after `--`, Prepared.passthrough) before any host is touched:
   * throws a UsageError (exit 2) naming an option loadfleet owns (topology, load, result files, target) or one
   * the engine does not take. Pure (no I/O). Optional: a driver without it gets its passthrough unchecked.
   */
  checkPassthrough?(args: readonly string[]): void;
  /**
   * Optional: checks the whole run (load plan, thresholds, passthrough) against what the engine can do:
   * UsageError (exit 2). Pure, no host touched. A driver whose check exists also runs it in create(), so
   * it holds before prepare() even where the pipeline does not call it earlier.
   */
  check?(p: Prepared): void;
  create(ctx: DriverContext): EngineDriver;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
