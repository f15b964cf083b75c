/** One folder per env (`<home>/<name>/`): its record, outputs, synthesized code, state and keys. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { checkOutputAddresses, envRecordSchema, outputsSchema, type EnvRecord, type FleetOutputs } from '../core/env-record';
import { ExternalError, UsageError } from '../core/errors';

export class EnvDir {
  readonly dir: string;

  constructor(
    readonly home: string,
    readonly name: string,
  ) {
    this.dir = path.join(home, name);
  }

  get synthDir(): string {
    return path.join(this.dir, 'synth');
  }
  get knownHosts(): string {
    return path.join(this.dir, 'known_hosts');
  }
  get localDir(): string {
    return path.join(this.dir, 'local');
  }
  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** The env folder, private to the user (0700), also when an older version made it 0755. */
  async ensure(): Promise<void> {
    await local(`cannot create the env folder ${this.dir}`, async () => {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fs.chmod(this.dir, 0o700);
    });
  }

  async readRecord(): Promise<EnvRecord | undefined> {
    return this.readJson('env.json', (v) => envRecordSchema.parse(v));
  }

  async writeRecord(record: EnvRecord): Promise<void> {
    await this.writeJson('env.json', record);
  }

  async readOutputs(): Promise<FleetOutputs | undefined> {
    return this.readJson('outputs.json', (v) => checkOutputAddresses(outputsSchema.parse(v)));
  }

  /** Outputs or a usage error that says how to get them. */
  async requireOutputs(): Promise<FleetOutputs> {
    const outputs = await this.readOutputs();
    if (!outputs) throw new UsageError(`env "${this.name}" has no outputs in ${this.file('outputs.json')}: run "loadfleet up" first`);
    return outputs;
  }

  async writeOutputs(outputs: FleetOutputs): Promise<void> {
    await this.writeJson('outputs.json', outputs);
  }

  async removeOutputs(): Promise<void> {
    await local(`cannot remove ${this.file('outputs.json')}`, () => fs.rm(this.file('outputs.json'), { force: true }));
  }

  private async readJson<T>(name: string, parse: (v: unknown) => T): Promise<T | undefined> {
    const file = this.file(name);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ExternalError(`cannot read ${file}: ${(e as Error).message}`);
    }
    try {
      return parse(JSON.parse(text));
    } catch (e) {
      throw new UsageError(`${file} is unreadable (${(e as Error).message.split('\n')[0]}): restore it, or remove the env folder ${this.dir} after "loadfleet sweep --env ${this.name}"`);
    }
  }

  /** Written to a temp file and renamed, so a crash never leaves half a file behind. */
  private async writeJson(name: string, value: unknown): Promise<void> {
    await this.ensure();
    const file = this.file(name);
    const tmp = `${file}.${process.pid}.tmp`;
    const text = JSON.stringify(value, null, 2) + '\n';
    await local(`cannot write ${file}`, async () => {
      try {
        await fs.writeFile(tmp, text, { mode: 0o600 });
        await fs.rename(tmp, file);
      } catch (e) {
        await fs.rm(tmp, { force: true }).catch(() => undefined);
        throw e;
      }
    });
  }
}

/**
 * A failure of the local disk (full, read-only, no permission, a file where a folder should be) is the
 * machine saying no, not a bug: exit 1 naming the path and the system's words.
 */
async function local<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err?.code === 'string' && typeof err.syscall === 'string') throw new ExternalError(`${what}: ${err.message}`, { cause: e, code: err.code });
    throw e;
  }
}
