/**
 * vitest global set-up of the integration project: the suite must leave the machine as it found it. A path
 * under MACHINE_PATHS that appears during the run would let a later run pass only because of it (issue 21).
 */
import { existingMachinePaths } from './machine-paths';

export default function setup(): () => void {
  const before = new Set(existingMachinePaths());
  return () => {
    const created = existingMachinePaths().filter((p) => !before.has(p));
    if (created.length > 0) {
      // vitest reports an error thrown here but still exits 0: set the exit code ourselves.
      process.exitCode = 1;
      console.error(`\nFAIL: the integration tests left ${created.join(', ')} on this machine: a fresh machine has none, so a later run could pass only because of it. Remove what a test creates outside its workspace.`);
    }
  };
}
