/** Reads terraform's machine-readable UI (`-json`) lines into progress and errors. Pure. */

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

export function summarizeEvents(lines: readonly string[]): ApplyProgress {
  let planned = 0;
  let done = 0;
  let last: string | undefined;
  const errors: string[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let ev: TfEvent;
    try {
      ev = JSON.parse(line) as TfEvent;
    } catch {
      continue;
    }
    switch (ev.type) {
      case 'planned_change':
        if (ev.change?.action !== 'noop' && ev.change?.action !== 'read') planned++;
        break;
      case 'apply_complete':
        if (ev.hook?.action === 'read') break; // data sources are not in the planned count
        done++;
        last = ev.hook?.resource?.addr;
        break;
      case 'apply_start':
        last = ev.hook?.resource?.addr;
        break;
      case 'diagnostic':
        if (ev.diagnostic?.severity === 'error') {
          const d = ev.diagnostic;
          errors.push(`${d.address ? `${d.address}: ` : ''}${d.summary ?? ''}${d.detail ? ` — ${d.detail}` : ''}`);
        }
        break;
      default:
        break;
    }
  }
  return { planned, done, last, errors };
}
