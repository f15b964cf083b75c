import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { holderAlive, parseStartTime, processStartTime, releaseLockFile, takeLockFile } from '../../scripts/adapters/lock';
import { assertNoRunGoing } from '../../scripts/actions/run';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'lockpid-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

// Another live process whose pid a lock can name: the test runner's parent.
const other = process.ppid;
const otherStart = () => processStartTime(other)!;

describe('parseStartTime (/proc/<pid>/stat field 22, proc(5))', () => {
  it('counts fields after the last ")" so a command name with spaces and parentheses does not shift them', () => {
    const rest = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21';
    expect(parseStartTime(`42 (node) ${rest}`)).toBe('987654');
    expect(parseStartTime(`42 (a b) (c)) ${rest}`)).toBe('987654');
  });
  it('is undefined for a line it cannot read', () => {
    expect(parseStartTime('garbage')).toBeUndefined();
    expect(parseStartTime('42 (x) S 1 2')).toBeUndefined();
  });
  it('reads this process\'s own start time', () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
  });
});

describe('a lock whose pid is alive but started at another time is stale (pid reuse)', () => {
  it('GIVEN a holder pid alive WHEN its recorded start time matches THEN alive; another start time THEN stale; none recorded THEN the pid decides', () => {
    expect(holderAlive({ pid: other, pidStart: otherStart() })).toBe(true);
    expect(holderAlive({ pid: other, pidStart: '1' })).toBe(false);
    expect(holderAlive({ pid: other })).toBe(true);
    expect(holderAlive({ pid: 2 ** 22 + 7, pidStart: '1' })).toBe(false);
    expect(holderAlive(undefined)).toBe(false);
  });

  it('takeLockFile records this process\'s start time and takes over a lock naming a live pid with another start time', () => {
    const file = path.join(tmp(), 'lock');
    fs.writeFileSync(file, JSON.stringify({ pid: other, pidStart: '1', command: 'up' }));
    expect(takeLockFile(file, { pid: process.pid, command: 'run' }, 'env "x"')).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ pid: process.pid, command: 'run', pidStart: processStartTime(process.pid) });
    releaseLockFile(file);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('takeLockFile refuses a lock whose pid and start time both match a live process', () => {
    const file = path.join(tmp(), 'lock');
    fs.writeFileSync(file, JSON.stringify({ pid: other, pidStart: otherStart(), command: 'up' }));
    expect(takeLockFile(file, { pid: process.pid, command: 'run' }, 'env "x"')).toMatchObject({ pid: other, command: 'up' });
  });

  it('run\'s own check (runs/.lock) ignores a reused pid and names a run still going', async () => {
    const d = tmp();
    fs.writeFileSync(path.join(d, '.lock'), JSON.stringify({ pid: other, pidStart: '1', runId: 'r-old' }));
    await expect(assertNoRunGoing(d)).resolves.toBeUndefined();
    fs.writeFileSync(path.join(d, '.lock'), JSON.stringify({ pid: other, pidStart: otherStart(), runId: 'r-now' }));
    await expect(assertNoRunGoing(d)).rejects.toThrow(`run r-now is still going on this env (loadfleet pid ${other})`);
  });
});
