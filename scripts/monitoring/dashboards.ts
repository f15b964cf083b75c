/**
 * The dashboards shipped in ami/monitoring/dashboards/*.json, read as data: their PromQL expressions (for
 * promtool and for the "returns data" test) and what makes a dashboard unprovisionable. Pure.
 */

/** Every panel, target, variable and annotation uses this one datasource uid (provisioned in grafana.ts). */
export const DATASOURCE_UID = 'loadfleet-prometheus';

export interface DashboardExpr {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

type Json = Record<string, unknown>;
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);

function panelsOf(d: Json): Json[] {
  // Rows may nest panels (collapsed rows); flatten them.
  return arr(d.panels).flatMap((p) => [p, ...arr(p.panels)]);
}

export function dashboardExprs(name: string, d: Json): DashboardExpr[] {
  const out: DashboardExpr[] = [];
  for (const p of panelsOf(d)) {
    for (const t of arr(p.targets)) if (typeof t.expr === 'string') out.push({ dashboard: name, panel: String(p.title), refId: String(t.refId), expr: t.expr });
  }
  for (const a of arr((d.annotations as Json | undefined)?.list)) {
    if (typeof a.expr === 'string') out.push({ dashboard: name, panel: `annotation ${String(a.name)}`, refId: '-', expr: a.expr });
  }
  return out;
}

/** Why Grafana's file provisioning would not show this dashboard as shipped; empty when it would. */
export function dashboardProblems(name: string, d: Json): string[] {
  const problems: string[] = [];
  const text = JSON.stringify(d);
  // grafana.com exports carry "${DS_PROMETHEUS}" inputs that file provisioning never fills (grafana#10786).
  for (const m of text.match(/\$\{DS_[A-Z_]+\}/g) ?? []) problems.push(`${name}: uses the import input ${m}; use the fixed uid "${DATASOURCE_UID}"`);
  if (typeof d.uid !== 'string' || !d.uid) problems.push(`${name}: has no uid (links and provisioning updates need a stable one)`);
  const checkDs = (where: string, ds: unknown) => {
    const uid = (ds as Json | undefined)?.uid;
    if (uid !== DATASOURCE_UID) problems.push(`${name}: ${where} uses datasource ${JSON.stringify(ds ?? null)}, not {uid: "${DATASOURCE_UID}"}`);
  };
  for (const p of panelsOf(d)) {
    if (p.type === 'row') continue;
    checkDs(`panel "${String(p.title)}"`, p.datasource);
    const targets = arr(p.targets);
    if (targets.length === 0) problems.push(`${name}: panel "${String(p.title)}" has no query`);
    for (const t of targets) checkDs(`panel "${String(p.title)}" target ${String(t.refId)}`, t.datasource);
  }
  for (const v of arr((d.templating as Json | undefined)?.list)) if (v.type === 'query') checkDs(`variable ${String(v.name)}`, v.datasource);
  for (const a of arr((d.annotations as Json | undefined)?.list)) if (!a.builtIn) checkDs(`annotation ${String(a.name)}`, a.datasource);
  return problems;
}

/**
 * A dashboard expression made concrete for a PromQL engine outside Grafana: the env variable filled in
 * and Grafana's $__rate_interval replaced (it is at least 4 × the scrape interval; 30 s here).
 */
export function concreteExpr(expr: string, env: string, rateInterval = '30s'): string {
  return expr.replace(/\$__rate_interval/g, rateInterval).replace(/\$env\b/g, env);
}

/** A Prometheus rules file holding every expression, for `promtool check rules` (which parses each one). */
export function rulesFileFor(exprs: readonly DashboardExpr[], env = 'check'): string {
  const rules = exprs.map((e, i) => `      - record: loadfleet:dashboard_check:${i}\n        expr: ${JSON.stringify(concreteExpr(e.expr, env))}`);
  return `groups:\n  - name: loadfleet-dashboard-expressions\n    rules:\n${rules.join('\n')}\n`;
}
