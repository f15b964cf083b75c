/** Issue 22 item 11: an unknown flag prints the error and one line; `version` and `-v` print the version. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VERSION, main } from '../../scripts/cli';

const capture = () => {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  return { out: () => out, err: () => err };
};
afterEach(() => vi.restoreAllMocks());

describe('the command line (issue 22)', () => {
  it('fails on an unknown flag with exit 2, the error and one line, not the whole help', async () => {
    const c = capture();
    expect(await main(['node', 'loadfleet', 'up', '--bogus'])).toBe(2);
    expect(c.err().trim().split('\n')).toEqual(["error: unknown option '--bogus'", '(run "loadfleet <command> --help" for its options)']);
  });
  it('prints the version for `version`, -v and --version, equal to package.json\'s', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
    for (const args of [['version'], ['-v'], ['--version']]) {
      const c = capture();
      expect(await main(['node', 'loadfleet', ...args])).toBe(0);
      expect(c.out()).toBe(`${VERSION}\n`);
      vi.restoreAllMocks();
    }
  });
});
