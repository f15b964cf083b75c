/**
 * The registry of run drivers: the only place that maps an engine name to its driver.
 * Adding an engine's run = one file beside this one + one line here.
 */
import type { EngineName } from '../../stacks/engines';
import { UsageError } from '../core/errors';
import { artilleryRun } from './artillery';
import { jmeterRun } from './jmeter';
import { k6Run } from './k6';
import { locustRun } from './locust';
import { ngrinderRun } from './ngrinder';
import type { DriverModule } from './types';

export const DRIVERS: Partial<Record<EngineName, DriverModule>> = { locust: locustRun, artillery: artilleryRun, k6: k6Run, jmeter: jmeterRun, ngrinder: ngrinderRun };

export function driverModule(engine: EngineName): DriverModule {
  const d = DRIVERS[engine];
  if (!d) throw new UsageError(`run drives ${Object.keys(DRIVERS).join(', ')} in this version; engine ${engine} is not orchestrated yet`);
  return d;
}
