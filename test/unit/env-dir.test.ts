import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnvDir } from '../../scripts/adapters/env-dir';
import { exitCodeFor, ExternalError } from '../../scripts/core/errors';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A LOADFLEET_HOME that is a file: every write under it fails with ENOTDIR (EACCES cannot be caused as root). */
function homeThatIsAFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-envdir-'));
  made.push(dir);
  const home = path.join(dir, 'home');
  fs.writeFileSync(home, 'not a folder');
  return home;
}

describe('env folder', () => {
  it('reports a folder it cannot create or a record it cannot write as external (1), naming the path', async () => {
    const env = new EnvDir(homeThatIsAFile(), 'demo');
    const ensure = await env.ensure().then(() => undefined, (e: unknown) => e);
    expect(ensure).toBeInstanceOf(ExternalError);
    expect(exitCodeFor(ensure)).toBe(1);
    expect((ensure as Error).message).toContain(env.dir);
    const write = await env.writeRecord({ name: 'demo' } as never).then(() => undefined, (e: unknown) => e);
    expect(exitCodeFor(write)).toBe(1);
    expect((write as Error).message).toMatch(/ENOTDIR/);
  });

  it('leaves no temp file behind when the rename fails', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-envdir-'));
    made.push(dir);
    const env = new EnvDir(dir, 'demo');
    await env.ensure();
    fs.mkdirSync(env.file('outputs.json')); // a folder where the file goes: rename fails
    fs.writeFileSync(path.join(env.file('outputs.json'), 'x'), '');
    const err = await env.writeOutputs({} as never).then(() => undefined, (e: unknown) => e);
    expect(exitCodeFor(err)).toBe(1);
    expect((err as Error).message).toContain(env.file('outputs.json'));
    expect(fs.readdirSync(env.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
