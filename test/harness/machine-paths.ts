/**
 * Paths outside the clone that loadfleet writes on EC2 hosts (and that a local host shares with the machine,
 * since /var is not private to a namespace host). A fresh machine has none of them, so no test may depend on
 * them, and no test may leave one behind for a later run to depend on (issue 21: a test that bind-mounted over
 * /var/lib/loadfleet passed only where an earlier run had left the folder).
 */
import * as fs from 'node:fs';

export const MACHINE_PATHS = ['/var/lib/loadfleet', '/etc/loadfleet'] as const;

export function existingMachinePaths(): string[] {
  return MACHINE_PATHS.filter((p) => fs.existsSync(p));
}

/**
 * A mount point on the machine for a bind mount inside a namespace host: created when absent, and the returned
 * function removes it again only if this call created it (and it is empty, i.e. every host's mount is gone).
 */
export function machineMountPoint(dir: string): () => void {
  if (fs.existsSync(dir)) return () => undefined;
  fs.mkdirSync(dir, { recursive: false, mode: 0o755 });
  return () => {
    try {
      fs.rmdirSync(dir);
    } catch (e) {
      throw new Error(`the test created ${dir} as a mount point and could not remove it: ${(e as Error).message}`);
    }
  };
}
