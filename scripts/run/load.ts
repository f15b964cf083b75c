/**
 * Load options that mean the same on every engine (--users, --rate, --duration, --stages), parsed into
 * one plan, then mapped to each engine's own mechanism. Pure: the command reads a --stages file and
 * hands its text here.
 */
import { UsageError } from '../core/errors';

/** The five engines a run can drive (stacks/engines.ts may not list all of them yet). */
export type LoadEngine = 'locust' | 'artillery' | 'k6' | 'jmeter' | 'ngrinder';

export interface Stage {
  /** How long this stage lasts, seconds. */
  readonly durationS: number;
  /** Users/VUs at the end of the stage (Artillery: arrivals per second), reached linearly from the previous stage's. */
  readonly target: number;
}

/** The one plan every engine mapping starts from: always a list of stages. */
export interface LoadPlan {
  readonly stages: readonly Stage[];
  /** Peak users (max stage target). */
  readonly users: number;
  /** Users started (or arrivals) per second while ramping up without stages. */
  readonly rate: number;
  readonly durationS: number;
  /** True when the user gave --stages (ramps are theirs, not derived from --rate). */
  readonly staged: boolean;
}

export const DURATION_FORM = 'a duration like 10s, 5m, 1h or 1m30s';
export const STAGES_FORM = 'a JSON list like [{"duration":"30s","target":10},{"duration":"1m","target":50}] (inline or in a file)';

const UNIT_S: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** "10s", "5m", "1h", "1m30s", "250ms" → seconds. A bare number is refused: the unit is the point. */
export function parseDuration(flag: string, value: string): number {
  const v = value.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v)) !== null) {
    total += Number(m[1]) * UNIT_S[m[2]!]!;
    matched = re.lastIndex;
  }
  if (v === '' || matched !== v.length || !(total > 0)) {
    throw new UsageError(`${flag} (${value}) must be ${DURATION_FORM}`);
  }
  return Math.round(total * 1000) / 1000;
}

/** Seconds → the shortest k6/Go-style duration ("1m30s"), the form engines accept back. */
export function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds)) return `${Math.round(seconds * 1000)}ms`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
}

/** --stages text (inline JSON or a file's content; `source` names it in errors) → stages. */
export function parseStages(source: string, text: string): Stage[] {
  const bad = (why: string) => new UsageError(`--stages (${source}) ${why}; it must be ${STAGES_FORM}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw bad(`is not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(raw) || raw.length === 0) throw bad('is not a non-empty list');
  return raw.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null) throw bad(`item ${i} is not an object`);
    const { duration, target, ...rest } = item as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw bad(`item ${i} has unknown field(s) ${Object.keys(rest).join(', ')}`);
    let durationS: number;
    if (typeof duration === 'string') durationS = parseDuration(`--stages item ${i} duration`, duration);
    else if (typeof duration === 'number' && duration > 0) durationS = duration;
    else throw bad(`item ${i} duration (${JSON.stringify(duration)}) is not ${DURATION_FORM} or a number of seconds`);
    if (typeof target !== 'number' || !Number.isInteger(target) || target < 0) {
      throw bad(`item ${i} target (${JSON.stringify(target)}) is not a whole number ≥ 0`);
    }
    return { durationS, target };
  });
}

export interface LoadFlags {
  readonly users?: number;
  readonly rate?: number;
  readonly durationS?: number;
  readonly stages?: readonly Stage[];
}

export const LOAD_DEFAULTS = { users: 10, durationS: 60 } as const;

/**
 * One plan from the flags. Without stages: ramp to `users` at `rate` per second (default: all at once
 * within 1 s), hold until `duration`. With stages, --users/--duration would contradict them: refused.
 */
export function resolveLoad(flags: LoadFlags): LoadPlan {
  if (flags.stages) {
    if (flags.users !== undefined || flags.durationS !== undefined) {
      throw new UsageError('--stages sets users and duration itself: drop --users/--duration, or drop --stages');
    }
    const stages = flags.stages;
    const users = Math.max(...stages.map((s) => s.target));
    if (users < 1) throw new UsageError('--stages never goes above 0 users: give at least one stage a target ≥ 1');
    const durationS = stages.reduce((a, s) => a + s.durationS, 0);
    return { stages, users, rate: flags.rate ?? users, durationS, staged: true };
  }
  const users = flags.users ?? LOAD_DEFAULTS.users;
  const durationS = flags.durationS ?? LOAD_DEFAULTS.durationS;
  const rate = flags.rate ?? users;
  const rampS = Math.min(durationS, Math.round((users / rate) * 1000) / 1000);
  const stages: Stage[] = [{ durationS: rampS, target: users }];
  if (durationS > rampS) stages.push({ durationS: Math.round((durationS - rampS) * 1000) / 1000, target: users });
  return { stages, users, rate, durationS, staged: false };
}

/** A whole `total` split over `n` generators as whole numbers that add up exactly (the first ones get the remainder). */
export function splitEvenly(total: number, n: number): number[] {
  // A fraction cannot be split into whole shares that add up: the caller must split it another way.
  if (!Number.isInteger(total) || total < 0) throw new Error(`splitEvenly needs a whole number ≥ 0, got ${total}`);
  const base = Math.floor(total / n);
  const rem = total - base * n;
  return Array.from({ length: n }, (_, i) => base + (i < rem ? 1 : 0));
}

// ---- Locust: the master's web API, one /swarm per stage boundary ----

export interface LocustSwarm {
  /** Seconds after the start. */
  readonly atS: number;
  readonly userCount: number;
  /** Users per second; Locust ramps from the current count to userCount at this rate. */
  readonly spawnRate: number;
}

/**
 * Locust moves from the current user count to a new one at spawn_rate, so each stage is one /swarm at its
 * start with the rate that gets there by the stage's end. A hold stage re-swarms to the same count (a no-op
 * for Locust, kept so the schedule lines up with the stages). The run stops at plan.durationS via /stop.
 */
export function locustSchedule(plan: LoadPlan): LocustSwarm[] {
  if (!plan.staged) return [{ atS: 0, userCount: plan.users, spawnRate: plan.rate }];
  const out: LocustSwarm[] = [];
  let at = 0;
  let current = 0;
  for (const s of plan.stages) {
    const delta = Math.abs(s.target - current);
    const spawnRate = delta === 0 ? Math.max(1, s.target) : Math.max(0.1, Math.round((delta / s.durationS) * 1000) / 1000);
    out.push({ atS: at, userCount: s.target, spawnRate });
    at += s.durationS;
    current = s.target;
  }
  return out;
}

// ---- Artillery: phases in the script's config, split over independent generators ----

export interface ArtilleryPhase {
  readonly duration: number;
  /** Arrivals per second (whole numbers: Artillery 2.0.21's dist.js `distribute` asserts on a fraction). */
  readonly arrivalRate?: number;
  /** Arrivals spread evenly over the phase (a fractional --rate: its exact total, on the agent's first worker). */
  readonly arrivalCount?: number;
  readonly rampTo?: number;
  readonly maxVusers?: number;
  readonly name: string;
}

/**
 * Artillery is an open model: a phase says how many virtual users *arrive* per second. --rate is that
 * arrival rate (whole fleet), --users caps concurrent VUs (maxVusers), and a stage's target is an arrival
 * rate ramped to (rampTo). Every generator runs the same phases with its share, split so the shares add up
 * to exactly what was asked and never more:
 * - a whole --rate: whole arrival rates (Artillery spreads those over its worker threads);
 * - a fractional --rate: the run's total arrivals, floor(rate × duration), as `arrivalCount` shares
 *   (Artillery 2.0.21 dist.js runs an arrivalCount phase on the first worker thread of each agent);
 * - stages: whole shares of each stage's start and end rate (their sum ramps exactly as the fleet's).
 * A generator whose share is 0 in every phase is left out (null): Artillery, given only idle phases, starts
 * no worker at all (dist.js filters them) and would never reach the start gate.
 */
export function artilleryPhases(plan: LoadPlan, generators: number): (ArtilleryPhase[] | null)[] {
  const perGen = (x: number) => splitEvenly(x, generators);
  // --users caps concurrent VUs: split over the generators that send (each gets at least 1).
  const withCaps = (phases: (ArtilleryPhase[] | null)[]): (ArtilleryPhase[] | null)[] => {
    const active = phases.filter((x) => x !== null).length;
    // Fewer users than sending agents: some agent would get a cap of 0 (no VU at all), and raising it to 1 would
    // run more concurrent users than asked. Refused (issue 15: never more than asked).
    if (active > plan.users) throw new UsageError(`--users (${plan.users}) is less than the agents that send load (${active}): each needs at least one concurrent user; raise --users to ${active}, or lower --rate so fewer agents send`);
    const caps = active ? splitEvenly(plan.users, active) : [];
    let k = 0;
    return phases.map((x) => {
      if (x === null) return null;
      const cap = Math.max(1, caps[k++]!);
      return x.map((ph) => ({ ...ph, maxVusers: cap }));
    });
  };
  if (!plan.staged) {
    if (Number.isInteger(plan.rate)) {
      return withCaps(perGen(plan.rate).map((r) => (r > 0 ? [{ name: 'load', duration: plan.durationS, arrivalRate: r }] : null)));
    }
    const arrivals = Math.floor(plan.rate * plan.durationS + 1e-9);
    return withCaps(perGen(arrivals).map((n) => (n > 0 ? [{ name: 'load', duration: plan.durationS, arrivalCount: n }] : null)));
  }
  const out: ArtilleryPhase[][] = Array.from({ length: generators }, () => []);
  let prev = 0;
  plan.stages.forEach((s, k) => {
    const from = perGen(prev);
    const to = perGen(s.target);
    for (let i = 0; i < generators; i++) {
      out[i]!.push({
        name: `stage ${k + 1}`,
        duration: s.durationS,
        arrivalRate: from[i]!,
        ...(from[i] !== to[i] ? { rampTo: to[i]! } : {}),
      });
    }
    prev = s.target;
  });
  return out.map((phases) => (phases.some((ph) => (ph.arrivalRate ?? 0) > 0 || (ph.rampTo ?? 0) > 0) ? phases : null));
}

// ---- k6: CLI flags (k6 splits VUs over instances through the execution segments) ----

/** `--vus/--duration` when constant, else `--stage d:t` per stage (k6's ramping-vus shortcut). */
export function k6LoadArgs(plan: LoadPlan): string[] {
  if (!plan.staged && plan.stages.length === 1) return ['--vus', String(plan.users), '--duration', formatDuration(plan.durationS)];
  return plan.stages.flatMap((s) => ['--stage', `${formatDuration(s.durationS)}:${s.target}`]);
}

// ---- JMeter: properties sent to every server with -G; the plan reads them with ${__P(name,default)} ----

/**
 * Every JMeter server runs the whole thread group, so threads are per server: users/N (rounded up;
 * the rounding is reported). Stages become the Ultimate Thread Group's `threads_schedule` property
 * (spawn(threads, delay, ramp, hold, shutdown) per stage), which plain thread groups ignore.
 */
export function jmeterProps(plan: LoadPlan, servers: number): Record<string, string> {
  const perServer = (x: number) => Math.ceil(x / servers);
  const rampS = Math.max(1, Math.ceil(plan.stages[0]!.durationS));
  const props: Record<string, string> = {
    threads: String(perServer(plan.users)),
    rampup: String(plan.staged ? rampS : Math.max(1, Math.ceil(plan.users / plan.rate))),
    duration: String(Math.ceil(plan.durationS)),
  };
  if (plan.staged) {
    // A step up adds a spawn() that starts at the stage's start and holds until the end; a step down is
    // not expressible as spawn() without knowing future stages, so plans that go down are refused here.
    let at = 0;
    let prev = 0;
    const spawns: string[] = [];
    for (const s of plan.stages) {
      if (s.target < prev) throw new UsageError('JMeter stages can only ramp up or hold (Ultimate Thread Group spawn()); drop the stage that goes down or pass -G threads_schedule yourself');
      const add = perServer(s.target) - perServer(prev);
      if (add > 0) {
        const ramp = Math.max(1, Math.ceil(s.durationS));
        spawns.push(`spawn(${add},${Math.ceil(at)}s,${ramp}s,${Math.max(1, Math.ceil(plan.durationS - at - ramp))}s,0s)`);
      }
      at += s.durationS;
      prev = s.target;
    }
    props.threads_schedule = spawns.join(' ');
  }
  return props;
}

// ---- nGrinder: the perftest's own fields ----

export interface NGrinderLoad {
  readonly agentCount: number;
  readonly vuserPerAgent: number;
  readonly processes: number;
  readonly threads: number;
  readonly threshold: 'D';
  readonly duration: number;
  readonly useRampUp: boolean;
  readonly rampUpType: 'THREAD';
  readonly rampUpInitCount: number;
  readonly rampUpStep: number;
  readonly rampUpIncrementInterval: number;
}

/** nGrinder ramps in fixed steps; stages have no equivalent and are refused with the alternative. */
export function ngrinderLoad(plan: LoadPlan, agents: number): NGrinderLoad {
  if (plan.staged) throw new UsageError('nGrinder has no stages (its ramp-up is one fixed step size): use --users/--rate/--duration');
  const vuserPerAgent = Math.max(1, Math.ceil(plan.users / agents));
  const perAgentRate = Math.max(1, Math.round(plan.rate / agents));
  return {
    agentCount: agents,
    vuserPerAgent,
    processes: 1,
    threads: vuserPerAgent,
    threshold: 'D',
    duration: Math.round(plan.durationS * 1000),
    useRampUp: vuserPerAgent > perAgentRate,
    rampUpType: 'THREAD',
    rampUpInitCount: 0,
    rampUpStep: perAgentRate,
    rampUpIncrementInterval: 1000,
  };
}
