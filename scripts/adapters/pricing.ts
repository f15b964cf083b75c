/**
 * Where prices come from: the table file named by $LOADFLEET_PRICES, else the cache that
 * `loadfleet prices --refresh` writes ($XDG_CACHE_HOME or ~/.cache, loadfleet/prices.json) when it exists,
 * else the offline table in the repo (scripts/core/prices.ts). Reading never touches the network: only
 * `prices --refresh` asks the AWS Price List API, so up/synth/status work offline.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { OFFLINE_PRICES, isPriceTable, tableFromPriceList, type PriceTable } from '../core/prices';
import { ExternalError, UsageError, awsError } from '../core/errors';

/** The file a refresh writes and loadPrices prefers; independent of any env folder. */
export function pricesFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOADFLEET_PRICES) return env.LOADFLEET_PRICES;
  const cache = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cache, 'loadfleet', 'prices.json');
}

export async function loadPricesFrom(env: NodeJS.ProcessEnv = process.env): Promise<{ table: PriceTable; from: string }> {
  const file = pricesFile(env);
  const named = env.LOADFLEET_PRICES ? 'LOADFLEET_PRICES' : 'the price cache';
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    // A missing cache is the normal offline case; a missing file the user named is their mistake.
    if (!env.LOADFLEET_PRICES && (e as NodeJS.ErrnoException).code === 'ENOENT') return { table: OFFLINE_PRICES, from: 'the offline table (scripts/core/prices.ts)' };
    throw new UsageError(`${named} (${file}) is not a readable price table: ${(e as Error).message}`);
  }
  let table: unknown;
  try {
    table = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${named} (${file}) is not a readable price table: ${(e as Error).message}; delete it or run \`loadfleet prices --refresh\``);
  }
  if (!isPriceTable(table)) {
    throw new UsageError(`${named} (${file}) must have source, date and onDemandUsdPerHour {region: {type: usd > 0}}; delete it or run \`loadfleet prices --refresh\``);
  }
  return { table, from: file };
}

export async function loadPrices(env: NodeJS.ProcessEnv = process.env): Promise<PriceTable> {
  return (await loadPricesFrom(env)).table;
}

/** The narrow port the refresh needs; the real one is a PricingClient. */
export interface PricingPort {
  send(command: unknown): Promise<{ PriceList?: string[]; NextToken?: string }>;
}

/** Asks GetProducts for each type (Linux, shared, no pre-installed software, capacitystatus Used). */
export async function fetchPriceList(client: PricingPort, region: string, types: readonly string[]): Promise<string[]> {
  const { GetProductsCommand } = await import('@aws-sdk/client-pricing');
  const items: string[] = [];
  for (const instanceType of types) {
    const filters = Object.entries({ instanceType, regionCode: region, operatingSystem: 'Linux', tenancy: 'Shared', preInstalledSw: 'NA', capacitystatus: 'Used' })
      .map(([Field, Value]) => ({ Type: 'TERM_MATCH' as const, Field, Value }));
    let NextToken: string | undefined;
    do {
      let page: { PriceList?: string[]; NextToken?: string };
      try {
        page = await client.send(new GetProductsCommand({ ServiceCode: 'AmazonEC2', Filters: filters, FormatVersion: 'aws_v1', MaxResults: 100, NextToken }));
      } catch (e) {
        throw awsError(`AWS Price List GetProducts (${instanceType}, ${region})`, e);
      }
      items.push(...(page.PriceList ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return items;
}

/** Builds the refreshed table and writes it atomically: on any failure the old file stays as it was. */
export async function refreshPrices(client: PricingPort, region: string, types: readonly string[], now: Date, env: NodeJS.ProcessEnv = process.env): Promise<{ table: PriceTable; file: string; missing: string[] }> {
  const items = await fetchPriceList(client, region, types);
  const table = tableFromPriceList(items, region, now.toISOString());
  const found = table.onDemandUsdPerHour[region] ?? {};
  const missing = types.filter((t) => found[t] === undefined);
  // An empty answer (a region with none of these types, a changed filter) must not replace a useful table.
  if (missing.length === types.length) throw new ExternalError(`the AWS Price List API returned no Linux on-demand price for ${types.join(', ')} in ${region}; the table in use is unchanged`);
  const file = pricesFile(env);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(table, null, 2)}\n`);
  await fs.rename(tmp, file);
  return { table, file, missing };
}
