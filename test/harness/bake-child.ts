/**
 * Runs one bake in its own process and sends itself SIGINT at a given step, so the real signal path
 * (withInterrupts → AbortSignal → cleanup) is exercised. Prints {build, error} as JSON.
 * argv: config home step builderIp hostDir
 */
import * as fs from 'node:fs';
import { loadConfig } from '../../scripts/adapters/config-file';
import { EnvDir } from '../../scripts/adapters/env-dir';
import { bake, BakeError, DEFAULT_BAKE } from '../../scripts/actions/bake';
import { withInterrupts } from '../../scripts/actions/signals';
import { ec2 } from './ec2-count';
import { authorizedKeysIn } from './local-fleet';

const [config, home, step, ip, hostDir] = process.argv.slice(2) as [string, string, string, string, string];
const loaded = await loadConfig(config);
try {
  await withInterrupts((signal) =>
    bake(loaded, new EnvDir(home, loaded.config.name), { ...DEFAULT_BAKE, role: 'agent', pollMs: 50, imageTimeoutMs: 5_000, instanceTimeoutMs: 10_000 }, {
      ec2: ec2(process.env as Record<string, string>),
      signal,
      beforeStep: async (s) => {
        if (s === step) {
          process.kill(process.pid, 'SIGINT');
          await new Promise((r) => setTimeout(r, 50)); // let the handler run
        }
      },
      resolveEndpoint: async (_i, key) => {
        fs.appendFileSync(authorizedKeysIn(hostDir, loaded.config.sshUser), `${key.publicKey}\n`);
        return { address: ip, user: loaded.config.sshUser, hostKind: 'netns' };
      },
    }),
  );
  process.stdout.write(JSON.stringify({ error: null }));
} catch (e) {
  process.stdout.write(JSON.stringify({ error: (e as Error).message, build: e instanceof BakeError ? e.build : null, removed: e instanceof BakeError ? e.removed : [] }));
}
