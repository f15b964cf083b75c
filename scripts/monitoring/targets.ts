/** Prometheus's own view of its targets (GET /api/v1/targets), reduced to per-host health. Pure. */

export interface TargetHealth {
  readonly host: string;
  readonly role: string;
  readonly job: string;
  readonly up: boolean;
  readonly lastError: string;
  readonly scrapeUrl: string;
}

interface RawTarget {
  labels?: Record<string, string>;
  health?: string;
  lastError?: string;
  scrapeUrl?: string;
}

export function parseTargets(json: unknown): TargetHealth[] {
  const data = (json as { status?: string; data?: { activeTargets?: RawTarget[] } } | null) ?? {};
  if (data.status !== 'success' || !Array.isArray(data.data?.activeTargets)) throw new Error(`Prometheus /api/v1/targets answered ${JSON.stringify(json).slice(0, 200)}`);
  return data.data.activeTargets.map((t) => ({
    host: t.labels?.host ?? t.scrapeUrl ?? '?',
    role: t.labels?.role ?? '',
    job: t.labels?.job ?? '',
    // "unknown" is a target not scraped yet: not up.
    up: t.health === 'up',
    lastError: t.lastError ?? '',
    scrapeUrl: t.scrapeUrl ?? '',
  }));
}

export interface ExporterReport {
  readonly up: readonly string[];
  /** Hosts whose node_exporter target is not up, with Prometheus's reason. */
  readonly down: readonly { readonly host: string; readonly reason: string }[];
}

/** Every expected host's node_exporter target: up, down (with Prometheus's last error), or absent from Prometheus. */
export function exporterReport(targets: readonly TargetHealth[], expectedHosts: readonly string[]): ExporterReport {
  const node = new Map(targets.filter((t) => t.job === 'node').map((t) => [t.host, t]));
  const up: string[] = [];
  const down: { host: string; reason: string }[] = [];
  for (const h of expectedHosts) {
    const t = node.get(h);
    if (!t) down.push({ host: h, reason: 'not among Prometheus targets (file_sd not written or not yet read)' });
    else if (t.up) up.push(h);
    else down.push({ host: h, reason: t.lastError || 'not scraped yet' });
  }
  return { up, down };
}
