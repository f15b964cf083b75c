/** Issue 22 item 11: an unknown flag prints the error and one line; `version` and `-v` print the version. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VERSION, buildProgram, main } from '../../scripts/cli';

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

describe('help that teaches (issue 22.13)', () => {
  it('every command\'s --help ends with examples and its exit codes', async () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names.length).toBeGreaterThan(15);
    for (const name of names) {
      const c = capture();
      expect(await main(['node', 'loadfleet', name, '--help'])).toBe(0);
      const help = c.out();
      expect(help, name).toMatch(/\nExamples:\n {2}loadfleet /);
      // each example is a command of this very program
      for (const m of help.matchAll(/^ {2}loadfleet (\S+)/gm)) expect(names, `${name}: ${m[0]}`).toContain(m[1]);
      expect(help, name).toMatch(/\nExit codes: 0\b/);
      vi.restoreAllMocks();
    }
  });

  /** run's options as the action receives them (the action itself replaced: nothing runs). */
  const runOpts = async (args: string[]) => {
    const program = buildProgram();
    let seen: Record<string, unknown> | undefined;
    const run = program.commands.find((c) => c.name() === 'run')!;
    run.action(async (...a: unknown[]) => void (seen = a[1] as Record<string, unknown>));
    await program.parseAsync(['node', 'loadfleet', 'run', '--env', 'nosuchenv', '--script', 's.py', ...args]);
    return seen!;
  };

  it('takes Locust\'s -u -r -t and k6\'s -u -d for --users, --rate, --duration', async () => {
    expect(await runOpts(['-u', '50', '-r', '10', '-t', '2m'])).toMatchObject({ users: '50', rate: '10', duration: '2m' });
    expect(await runOpts(['-u', '5', '-d', '30s'])).toMatchObject({ users: '5', duration: '30s' });
  });

  it('fails when -t and --duration are both given', async () => {
    const c = capture();
    expect(await main(['node', 'loadfleet', 'run', '--env', 'x', '--script', 's.py', '-t', '1m', '--duration', '2m'])).toBe(2);
    expect(c.err()).toMatch(/-t \(1m\) and --duration \(2m\) both say how long: give one/);
  });
});
