/**
 * `loadfleet prices`: shows the price table in use (file, source, date); with --refresh asks the AWS Price
 * List API (endpoint region us-east-1: the API lives in a few regions only, whatever region is priced) and
 * writes the cache that up/synth/status then read. On any failure exit 1 and the old table stays.
 */
import { ExternalError, UsageError, awsError } from '../core/errors';
import { DEFAULT_REFRESH_TYPES, formatPriceTable } from '../core/prices';
import { loadPricesFrom, refreshPrices } from '../adapters/pricing';

export interface PricesOptions {
  readonly refresh: boolean;
  readonly region?: string;
  readonly types?: string;
  readonly json: boolean;
}

const TYPE_RE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;

export function refreshTypes(flag: string | undefined): string[] {
  if (flag === undefined) return [...DEFAULT_REFRESH_TYPES];
  const types = flag.split(',').map((t) => t.trim()).filter(Boolean);
  const bad = types.find((t) => !TYPE_RE.test(t));
  if (!types.length || bad !== undefined) throw new UsageError(`--types (${flag}) must be instance types separated by commas, e.g. c5.large,t3.small`);
  return types;
}

export async function pricesAction(opts: PricesOptions): Promise<void> {
  if (!opts.refresh) {
    if (opts.region !== undefined || opts.types !== undefined) throw new UsageError('--region and --types only go with --refresh');
    const { table, from } = await loadPricesFrom();
    process.stdout.write(opts.json ? `${JSON.stringify({ from, ...table }, null, 2)}\n` : `${formatPriceTable(table, from)}\n`);
    return;
  }
  const region = opts.region ?? process.env.AWS_REGION ?? 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new UsageError(`--region (${region}) is not an AWS region: write it like us-east-1`);
  const types = refreshTypes(opts.types);
  const { PricingClient } = await import('@aws-sdk/client-pricing');
  // Few attempts: a refresh is interactive, and a dead endpoint should say so in seconds.
  const client = new PricingClient({ region: 'us-east-1', maxAttempts: 2 });
  try {
    const { table, file, missing } = await refreshPrices(client, region, types, new Date());
    if (opts.json) process.stdout.write(`${JSON.stringify({ file, missing, ...table }, null, 2)}\n`);
    else {
      process.stdout.write(`${formatPriceTable(table, file)}\n`);
      if (missing.length) process.stderr.write(`no price listed for ${missing.join(', ')} in ${region}: shown as unknown\n`);
    }
  } catch (e) {
    const err = e instanceof ExternalError || e instanceof UsageError ? e : awsError('AWS Price List refresh', e);
    throw err instanceof ExternalError ? new ExternalError(`${err.message}; the price table in use is unchanged`, { cause: err, code: err.code }) : err;
  } finally {
    client.destroy();
  }
}
