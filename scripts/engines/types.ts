/**
 * One engine = one pure description that install, doctor, run and monitoring ask questions of
 * (see ../shared/notes/design-engines.md). This file is the contract between those commands; each
 * engine lives in its own file beside it (locust.ts, artillery.ts, jmeter.ts, k6.ts, ngrinder.ts) and
 * is listed in index.ts. Pure data and text: nothing here touches a host.
 *
 * How the commands use a description:
 * - install: for every host of a role in `roles`, runs `installScript(ctx)` as root (idempotent; prints
 *   "changed <what>" per change), then installs and starts `services(ctx)` under the supervisor
 *   (scripts/core/supervise.ts: systemd units on EC2, loadfleet's supervise loop on namespace hosts).
 * - doctor: runs `versionScript` on every host of `roles` (same version everywhere), reads the services'
 *   /proc/<pid>/limits, runs `checks(ctx)` (engine-specific, e.g. "the master sees every worker").
 */
import type { Role } from '../../stacks/config';
import type { EngineName } from '../../stacks/engines';
import type { HostKind } from '../core/tuning';

/** A file fetched during install, pinned: exact version, where from, and the checksum it must have. */
export interface Artifact {
  readonly name: string;
  readonly version: string;
  /** https URL on EC2; on the local target an absolute path in the machine's cache (scripts/setup.sh fills it). */
  readonly url: string;
  /** hex digest; one of the two is required */
  readonly sha256?: string;
  readonly sha512?: string;
  /** Set instead of a checksum only where none could be recorded: says why (shown by install and in the README). */
  readonly unverified?: string;
  /**
   * Set instead of a checksum where none is published (nGrinder's war): says why. install then needs the
   * user's sha256 (config engineSha256) or a recorded first download's (install --trust-first-download).
   */
  readonly unpublished?: string;
}

/** What an installer knows about the fleet: all of it from the env's outputs, never typed by the user. */
export interface InstallContext {
  readonly env: string;
  readonly role: Role;
  readonly hostKind: HostKind;
  readonly host: { readonly name: string; readonly privateIp: string };
  /** Where agents connect (from the outputs); null for engines without a master. */
  readonly master: { readonly address: string; readonly port: number } | null;
  readonly agents: readonly { readonly name: string; readonly privateIp: string }[];
  /** The engine version to install (config field `engineVersion`, defaulting to the engine's pinned default). */
  readonly version: string;
  /** The tuned open-files limit: services run with it. */
  readonly nofile: number;
  /** CPU cores of this host (probed before rendering): engines that run one process per core use it. */
  readonly cores: number;
  /** The login user (root, or ec2-user through sudo -n); services never run as it unless it is root. */
  readonly login: string;
  /** netns only: the machine's folder of staged engine artifacts (scripts/setup.sh fills it). @default /opt/loadfleet-cache */
  readonly cacheDir: string;
  /** sha256 per artifact name for the artifacts pinned `unpublished` (from config engineSha256 or the env's record). */
  readonly digests?: Readonly<Record<string, string>>;
  /** An `unpublished` artifact without a digest is downloaded, its sha256 printed ("loadfleet-sha256 NAME HEX") for install to record. */
  readonly trustFirstDownload?: boolean;
}

/** A long-running process kept alive: a systemd unit on EC2, the local supervisor on namespace hosts. */
export interface ServiceSpec {
  /** Unit-style name, e.g. "locust-worker-1"; unique per host; [a-z0-9@-] only. */
  readonly name: string;
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly workDir: string;
  /** pgrep -f pattern that finds this service's process (tune --verify-only and doctor read its limits). */
  readonly processPattern: string;
  /** Unix user the process runs as. @default root */
  readonly user?: string;
  /** Open-files limit (soft = hard) the process gets. @default the InstallContext's nofile */
  readonly nofile?: number;
}

/**
 * One engine-specific doctor check, run on the host as root. The script's LAST output line is
 * "ok <detail>" or "FAIL <reason>"; anything else (or a non-zero exit) counts as FAIL with its output.
 */
export interface HostCheck {
  readonly name: string;
  readonly script: string;
}

/** What doctor knows beyond the install context. */
export interface DoctorContext extends InstallContext {
  /** Every agent with its own hostname (as the engine sees it) and core count, probed by doctor. */
  readonly agentFacts: readonly { readonly name: string; readonly hostname: string; readonly cores: number }[];
}

export interface VersionPins {
  readonly ec2: readonly Artifact[];
  readonly netns: readonly Artifact[];
}

/**
 * A secret generated once per env, kept in the env folder with mode 0600 and applied on the hosts of
 * `role` after their services started (nGrinder's admin password). install says where it is kept.
 */
export interface EngineSecret {
  readonly role: Role;
  /** File name in the env folder. */
  readonly file: string;
  /** What it is, for install's message, e.g. "nGrinder admin password". */
  readonly what: string;
  /** A new secret from random bytes (install passes 64). */
  generate(random: Uint8Array): string;
  /** Idempotent sh run as root that applies it; prints "changed <what>" per change. */
  applyScript(secret: string, storedAt: string): string;
}

export interface EngineSpec {
  readonly name: EngineName;
  /** Per host kind: the local target may only have an older packaged version (Locust 2.12.1 from Debian). */
  readonly defaultVersion: Readonly<Record<HostKind, string>>;
  /** Every version loadfleet knows a checksum for, with its artifacts per host kind (from ami/engines/<engine>.json); an empty list = not offered on that kind. */
  readonly versions: Readonly<Record<string, VersionPins>>;
  /** undefined when the engine runs on the local target; else why it cannot (shown as a usage error). */
  readonly localUnsupported?: string;
  /** Which roles get anything installed. */
  readonly roles: readonly Role[];
  /** Idempotent sh run as root: prints "changed <what>" per change, exits non-zero at the first failure saying which step. */
  installScript(ctx: InstallContext): string;
  /** Long-running processes of a role (none for k6 / Artillery agents, which `run` starts). */
  services(ctx: InstallContext): readonly ServiceSpec[];
  /** sh printing the installed version on one line (nothing when not installed). */
  versionScript(ctx: InstallContext): string;
  /** Engine-specific doctor checks for a host of `ctx.role` (e.g. the master sees every worker). */
  checks?(ctx: DoctorContext): readonly HostCheck[];
  /** A generated secret install keeps in the env folder and applies (none for most engines). */
  readonly secret?: EngineSecret;
}
