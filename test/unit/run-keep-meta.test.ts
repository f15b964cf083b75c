/** meta.json is written whole or not at all (temp file + rename), never through whatever is at its path. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { keepRunData, runMeta } from '../../scripts/actions/keep-run';

let dir = '';
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('keepRunData writes meta.json atomically', () => {
  it('replaces a symlink planted at meta.json (its target untouched) and leaves no temp file', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-meta-'));
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'keep me\n');
    fs.symlinkSync(victim, path.join(dir, 'meta.json'));
    const meta = runMeta({ label: 'a', scriptText: 'x', agents: 2, target: 'the env\'s target app-1, port 80', targetUrl: 'http://127.0.0.1:80', hostKind: 'netns' });
    await keepRunData(dir, meta, 1_700_000_000_000, undefined);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me\n');
    expect(fs.lstatSync(path.join(dir, 'meta.json')).isSymbolicLink()).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'))).toEqual({ ...meta, targetAddress: '127.0.0.1' });
    expect(fs.readdirSync(dir).sort()).toEqual(['meta.json', 'victim.txt']);
  });

  it('fails when the folder is gone, leaving nothing half-written', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-meta-'));
    const gone = path.join(dir, 'gone');
    const meta = runMeta({ label: null, scriptText: 'x', agents: 1, target: 'http://127.0.0.1:80', targetUrl: 'http://127.0.0.1:80', hostKind: 'netns' });
    await expect(keepRunData(gone, meta, 0, undefined)).rejects.toThrow(/ENOENT/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
