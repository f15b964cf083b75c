/**
 * Host keys of EC2 instances from their console output (GetConsoleOutput), where cloud-init prints them at
 * first boot: pinned before first contact, so the first SSH connection is not trust-on-first-use. When the
 * console has no keys (not yet written, cut off, an image without cloud-init, no permission) the reason is
 * returned instead: callers fall back to trust-on-first-use and say so.
 */
import { GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import type { Ec2Port } from './ec2';
import type { KnownHosts } from './ssh';
import { consolePins, parseConsoleHostKeys, type ConsoleKeys } from '../core/known-hosts';

export async function consoleHostKeys(ec2: Ec2Port, instanceId: string): Promise<ConsoleKeys> {
  let output: string | undefined;
  try {
    output = (await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId }))).Output;
  } catch (e) {
    const err = e as Error & { name?: string };
    return { unavailable: `GetConsoleOutput failed: ${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}` };
  }
  if (!output) return { unavailable: 'no console output yet (EC2 publishes it a few minutes after boot)' };
  const keys = parseConsoleHostKeys(Buffer.from(output, 'base64').toString('utf8'));
  if (keys.length === 0) return { unavailable: 'the console output has no SSH HOST KEY KEYS block (cloud-init prints it at first boot)' };
  return { keys };
}

/**
 * Pins the console keys of every host not yet in known_hosts (up to `concurrency` calls at a time); returns
 * the pinned count and one note per host left to trust-on-first-use.
 */
export async function pinFromConsole(
  ec2: Ec2Port,
  knownHosts: KnownHosts,
  hosts: readonly { name: string; address: string; id: string }[],
  concurrency = 10,
): Promise<{ pinned: number; notes: readonly string[] }> {
  const known = await knownHosts.load();
  const todo = hosts.filter((h) => (known.get(h.address) ?? []).length === 0);
  const consoles = new Map<string, ConsoleKeys>();
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const h = todo[next++]!;
      consoles.set(h.id, await consoleHostKeys(ec2, h.id));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  const { pins, notes } = consolePins(todo, known, consoles);
  await knownHosts.pin(pins);
  return { pinned: new Set(pins.map((p) => p.host)).size, notes };
}
