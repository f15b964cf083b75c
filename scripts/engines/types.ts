/**
 * One engine = one pure description that install, doctor, run and monitoring ask questions of
 * (see ../shared/notes/design-engines.md). This file is the contract between those commands; each
 * engine lives in its own file beside it (locust.ts, artillery.ts, jmeter.ts, k6.ts, ngrinder.ts).
 * Pure data and text: nothing here touches a host.
 */
import type { Role } from '../../stacks/config';
import type { EngineName } from '../../stacks/engines';
import type { HostKind } from '../core/tuning';

/** A file fetched during install, pinned: exact version, where from, and the checksum it must have. */
export interface Artifact {
  readonly name: string;
  readonly version: string;
  readonly url: string;
  /** hex digest; one of the two is required */
  readonly sha256?: string;
  readonly sha512?: string;
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
  /** The engine version to install (config field, defaulting to the engine's pinned default). */
  readonly version: string;
  /** The tuned open-files limit: services run with it. */
  readonly nofile: number;
}

/** A long-running process kept alive: a systemd unit on EC2, the local supervisor on namespace hosts. */
export interface ServiceSpec {
  /** Unit-style name, e.g. "locust-worker-1"; unique per host. */
  readonly name: string;
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly workDir: string;
  /** pgrep -f pattern that finds this service's process (tune --verify-only and doctor read its limits). */
  readonly processPattern: string;
}

export interface EngineSpec {
  readonly name: EngineName;
  readonly defaultVersion: string;
  /** Every version loadfleet knows a checksum for, with its artifacts per host kind. */
  readonly versions: Readonly<Record<string, { readonly ec2: readonly Artifact[]; readonly netns: readonly Artifact[] }>>;
  /** undefined when the engine runs on the local target; else why it cannot (shown as a usage error). */
  readonly localUnsupported?: string;
  /** Which roles get anything installed. */
  readonly roles: readonly Role[];
  /** Idempotent sh run as root: prints "changed <what>" per change, exits non-zero at the first failure saying which step. */
  installScript(ctx: InstallContext): string;
  /** Long-running processes of a role (none for k6 / Artillery agents, which `run` starts). */
  services(ctx: InstallContext): readonly ServiceSpec[];
}
