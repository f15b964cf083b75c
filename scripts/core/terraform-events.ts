/**
 * Reads terraform's machine-readable UI (`-json`) lines into progress and errors. Pure.
 *
 * A fold: `foldEvent(state, line)` parses ONE line and returns the next state, so following a
 * running apply costs one JSON.parse per line. (Summarizing every line seen so far on each new line
 * was quadratic: ~8,000 lines for 1,000 instances meant ~32 million parses, seconds of blocking CPU.)
 */

export interface ApplyProgress {
  /** Resources terraform plans to change. */
  readonly planned: number;
  /** Resources whose change completed. */
  readonly done: number;
  /** The last resource that completed or started, for display. */
  readonly last?: string;
  readonly errors: readonly string[];
}

interface TfEvent {
  type?: string;
  '@level'?: string;
  '@message'?: string;
  hook?: { action?: string; resource?: { addr?: string } };
  change?: { action?: string; resource?: { addr?: string } };
  diagnostic?: { severity?: string; summary?: string; detail?: string; address?: string };
}

export const NO_PROGRESS: ApplyProgress = { planned: 0, done: 0, last: undefined, errors: [] };

/** The state after one more line. Returns `state` itself when the line changes nothing. */
export function foldEvent(state: ApplyProgress, line: string): ApplyProgress {
  if (!line.startsWith('{')) return state;
  let ev: TfEvent;
  try {
    ev = JSON.parse(line) as TfEvent;
  } catch {
    return state;
  }
  switch (ev.type) {
    case 'planned_change':
      if (ev.change?.action === 'noop' || ev.change?.action === 'read') return state;
      return { ...state, planned: state.planned + 1 };
    case 'apply_complete':
      if (ev.hook?.action === 'read') return state; // data sources are not in the planned count
      return { ...state, done: state.done + 1, last: ev.hook?.resource?.addr };
    case 'apply_start':
      return { ...state, last: ev.hook?.resource?.addr };
    case 'diagnostic': {
      const d = ev.diagnostic;
      if (d?.severity !== 'error') return state;
      return { ...state, errors: [...state.errors, `${d.address ? `${d.address}: ` : ''}${d.summary ?? ''}${d.detail ? ` — ${d.detail}` : ''}`] };
    }
    default:
      return state;
  }
}

/** Every line at once (tests, and an output read after the fact). */
export function summarizeEvents(lines: readonly string[]): ApplyProgress {
  return lines.reduce(foldEvent, NO_PROGRESS);
}

/** Wide enough that every instance of a 100-agent fleet is created at once: width then costs no time. */
export function parallelismFor(hosts: number): number {
  return Math.max(10, Math.min(200, hosts + 30));
}

export function progressText(p: ApplyProgress, verb: string): string {
  return `${p.done}/${p.planned || '?'} resources ${verb}${p.last ? ` (${p.last})` : ''}`;
}
