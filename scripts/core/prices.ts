/**
 * Price tables: on-demand USD per hour, Linux, shared tenancy, by region and instance type. The offline
 * table below ships in the repo; `loadfleet prices --refresh` writes a fresher one from the AWS Price List
 * API (parsed here, pure). A type or region missing from the table in use is shown as unknown, never as zero.
 */
export interface PriceTable {
  /** Where the figures come from and when they were taken: shown beside every estimate. */
  readonly source: string;
  readonly date: string;
  readonly onDemandUsdPerHour: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/**
 * Only types whose us-east-1 Linux on-demand price was found published (the pages named in `source`);
 * everything else was removed rather than guessed, so it shows as unknown until `prices --refresh`.
 * Cross-checks: c5.2xlarge/4xlarge/18xlarge also appear (0.34/0.68/3.06) in AWS's own Auto Scaling guide
 * (which calls them example prices); m5.large 0.096 and m5.xlarge 0.192 also in 2026 pages (go-cloud.io,
 * npblue.com); t3.micro 0.0104 also in wring.co's 2026-03-08 guide.
 */
export const OFFLINE_PRICES: PriceTable = {
  source:
    'published us-east-1 Linux on-demand prices, read from stored copies of: '
    + 'c5.*, m5.*: github.com/riceissa/computing-data-project sql/cloud-instance-costs.sql (observed 2017-12-01, US East (N. Virginia), Linux); '
    + 't3.micro, t3.small: cloud-bench.com/blog/aws-t3-micro-vs-t3-small; '
    + 't3.large: go-cloud.io/?p=10607 (2026); '
    + 'c5.2xlarge/4xlarge/18xlarge cross-checked in docs.amazonaws.cn autoscaling/ec2/userguide/weights-spot-price-per-unit-hour-example.html',
  date: 'observed 2017-12-01 (c5, m5) to 2026 (t3); seen 2026-11-25 in stored copies',
  onDemandUsdPerHour: {
    'us-east-1': {
      't3.micro': 0.0104, 't3.small': 0.0208, 't3.large': 0.0832,
      'c5.large': 0.085, 'c5.xlarge': 0.17, 'c5.2xlarge': 0.34, 'c5.4xlarge': 0.68, 'c5.9xlarge': 1.53, 'c5.18xlarge': 3.06,
      'm5.large': 0.096, 'm5.xlarge': 0.192, 'm5.2xlarge': 0.384, 'm5.4xlarge': 0.768,
    },
  },
};

/** What `prices --refresh` asks for without --types: the offline table's types and a few common neighbours. */
export const DEFAULT_REFRESH_TYPES: readonly string[] = [...new Set([
  ...Object.keys(OFFLINE_PRICES.onDemandUsdPerHour['us-east-1'] ?? {}),
  't3.medium', 't3.xlarge', 'c6i.large', 'c6i.xlarge', 'c7i.large', 'c7i.xlarge', 'm6i.large', 'm6i.xlarge',
])];

/** One priced product out of a GetProducts PriceList item. */
export interface ListedPrice {
  readonly instanceType: string;
  readonly regionCode: string;
  readonly usdPerHour: number;
}

interface PriceListItem {
  product?: { attributes?: Record<string, string> };
  terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, { unit?: string; pricePerUnit?: Record<string, string> }> }> };
}

/**
 * Reads one PriceList entry (a JSON string: product.attributes + terms.OnDemand.<offer>.priceDimensions.<rate>
 * .pricePerUnit.USD). Returns undefined when it carries no positive hourly USD on-demand price: a zero or
 * missing price must stay unknown, never become a free instance. Throws on text that is not JSON at all.
 */
export function parsePriceListItem(item: string): ListedPrice | undefined {
  const doc = JSON.parse(item) as PriceListItem;
  const attrs = doc.product?.attributes ?? {};
  const instanceType = attrs.instanceType;
  const regionCode = attrs.regionCode;
  if (!instanceType || !regionCode) return undefined;
  const prices: number[] = [];
  for (const offer of Object.values(doc.terms?.OnDemand ?? {})) {
    for (const dim of Object.values(offer.priceDimensions ?? {})) {
      if (dim.unit !== undefined && !/^hrs?$/i.test(dim.unit)) continue;
      const usd = Number(dim.pricePerUnit?.USD);
      if (Number.isFinite(usd) && usd > 0) prices.push(usd);
    }
  }
  // One product normally has one on-demand rate; if AWS ever lists several, the highest keeps estimates a ceiling.
  return prices.length ? { instanceType, regionCode, usdPerHour: Math.max(...prices) } : undefined;
}

/** A table from GetProducts answers for one region; types with no usable price are left out (unknown). */
export function tableFromPriceList(items: readonly string[], region: string, date: string): PriceTable {
  const byType: Record<string, number> = {};
  for (const item of items) {
    const p = parsePriceListItem(item);
    if (!p || p.regionCode !== region) continue;
    byType[p.instanceType] = Math.max(byType[p.instanceType] ?? 0, p.usdPerHour);
  }
  return { source: 'AWS Price List API GetProducts (AmazonEC2, Linux, shared tenancy, no pre-installed software, capacitystatus Used)', date, onDemandUsdPerHour: { [region]: byType } };
}

/** Whether a parsed file has the PriceTable shape (numbers only, no zeros). */
export function isPriceTable(t: unknown): t is PriceTable {
  const x = t as PriceTable;
  if (!x || typeof x.source !== 'string' || typeof x.date !== 'string' || typeof x.onDemandUsdPerHour !== 'object' || x.onDemandUsdPerHour === null) return false;
  return Object.values(x.onDemandUsdPerHour).every((r) => r && typeof r === 'object' && Object.values(r).every((v) => typeof v === 'number' && v > 0));
}

/** The table as `loadfleet prices` prints it. */
export function formatPriceTable(t: PriceTable, from: string): string {
  const lines = [`prices from ${from}`, `  source: ${t.source}`, `  date: ${t.date}`];
  for (const [region, types] of Object.entries(t.onDemandUsdPerHour)) {
    lines.push(`  ${region}:`);
    for (const [type, usd] of Object.entries(types).sort(([a], [b]) => a.localeCompare(b))) lines.push(`    ${type.padEnd(14)} $${usd}/h`);
  }
  lines.push('  any other type or region: unknown (never zero)');
  return lines.join('\n');
}
