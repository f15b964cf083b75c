/** A throw-away folder with an SSH key pair and a fleet config in it. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execaSync } from 'execa';
import { stringify } from 'yaml';
import type { FleetConfigInput } from '../../stacks/config';

export interface Workspace {
  readonly dir: string;
  readonly home: string;
  readonly publicKeyPath: string;
  readonly privateKeyPath: string;
  writeConfig(name: string, config: Partial<FleetConfigInput> & { name: string }): string;
  remove(): void;
}

export function workspace(prefix = 'lf-it-'): Workspace {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const privateKeyPath = path.join(dir, 'id_ed25519');
  execaSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'loadfleet-test', '-f', privateKeyPath]);
  return {
    dir,
    home: path.join(dir, 'home'),
    publicKeyPath: `${privateKeyPath}.pub`,
    privateKeyPath,
    writeConfig(name, config) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, stringify({ access: { sshCidrs: ['203.0.113.7/32'] }, keyPair: { publicKeyPath: `${privateKeyPath}.pub` }, ...config }));
      return file;
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
