/**
 * Where prices come from. Today: the offline table in the repo (scripts/core/prices.ts), or a table file
 * named by $LOADFLEET_PRICES (same shape, e.g. one refreshed from the AWS Pricing API elsewhere).
 * Asking the Pricing API live is not built yet (see the README's cost section).
 */
import * as fs from 'node:fs/promises';
import { OFFLINE_PRICES, type PriceTable } from '../core/prices';
import { UsageError } from '../core/errors';

export async function loadPrices(env: NodeJS.ProcessEnv = process.env): Promise<PriceTable> {
  const file = env.LOADFLEET_PRICES;
  if (!file) return OFFLINE_PRICES;
  let table: PriceTable;
  try {
    table = JSON.parse(await fs.readFile(file, 'utf8')) as PriceTable;
  } catch (e) {
    throw new UsageError(`LOADFLEET_PRICES (${file}) is not a readable price table: ${(e as Error).message}`);
  }
  if (typeof table.source !== 'string' || typeof table.date !== 'string' || typeof table.onDemandUsdPerHour !== 'object') {
    throw new UsageError(`LOADFLEET_PRICES (${file}) must have source, date and onDemandUsdPerHour {region: {type: usd}}`);
  }
  return table;
}
