/** The cost estimate as `up`, `synth` and `status` show it, and the --max-cost-per-hour gate. */
import type { FleetConfig } from '../../stacks/config';
import { costGroupsOf, fleetCost, formatCost, overLimit, type FleetCost } from '../core/cost';
import { UsageError } from '../core/errors';
import { positiveNumber } from '../core/flags';
import { loadPrices } from '../adapters/pricing';

export async function estimate(config: FleetConfig): Promise<FleetCost> {
  return fleetCost(costGroupsOf(config), config.region, config.ttlHours, await loadPrices());
}

/** The limit in force: --max-cost-per-hour, else the config's maxCostPerHour, else none. */
export function costLimit(config: FleetConfig, flag: string | undefined): number | undefined {
  return flag === undefined ? config.maxCostPerHour : positiveNumber('--max-cost-per-hour', flag, 0);
}

/** Shows the estimate (on stderr, so --json output stays one document) and refuses one over the limit. */
export async function checkCost(config: FleetConfig, flag: string | undefined): Promise<FleetCost> {
  const limit = costLimit(config, flag);
  const c = await estimate(config);
  process.stderr.write(`${formatCost(c)}\n`);
  const why = overLimit(c, limit);
  if (why) throw new UsageError(`${flag === undefined ? 'maxCostPerHour (config)' : '--max-cost-per-hour'}: ${why}; nothing was created`);
  return c;
}

export { formatCost };
