import { describe, expect, it } from 'vitest';
import { downCommand, homeToName } from '../../scripts/actions/up';

describe('the "run loadfleet down later" command', () => {
  it('quotes --home so a pasted command never expands $ or a backtick', () => {
    const home = "/tmp/a $HOME `id` 'q'";
    const cmd = downCommand('demo', home);
    expect(cmd).toBe(`loadfleet down --env demo --home '/tmp/a $HOME \`id\` '\\''q'\\''' --yes`);
    expect(downCommand('demo')).toBe('loadfleet down --env demo --yes');
    // The printed command names the home unless $LOADFLEET_HOME already does (it must work from any folder).
    expect(homeToName('/w/fleets/.loadfleet', {})).toBe('/w/fleets/.loadfleet');
    expect(homeToName('/w/fleets/.loadfleet', { LOADFLEET_HOME: '/w/fleets/.loadfleet' })).toBeUndefined();
    expect(homeToName('/w/fleets/.loadfleet', { LOADFLEET_HOME: '/elsewhere' })).toBe('/w/fleets/.loadfleet');
  });
});

describe('withInterrupts', () => {
  it('handles SIGHUP like Ctrl-C: stop, remind, abandon, then exit at once naming the command for later', async () => {
    const { HANDLED_SIGNALS, withInterrupts } = await import('../../scripts/actions/signals');
    expect(HANDLED_SIGNALS).toEqual(['SIGINT', 'SIGTERM', 'SIGHUP']);
    const written: string[] = [];
    const exits: number[] = [];
    const before = Object.fromEntries(HANDLED_SIGNALS.map((s) => [s, process.listenerCount(s)]));
    const seen = await withInterrupts(
      async (signal, abandon) => {
        for (const s of HANDLED_SIGNALS) expect(process.listenerCount(s)).toBe(before[s]! + 1);
        // process.emit runs the listeners only: no real signal reaches the test runner.
        process.emit('SIGHUP', 'SIGHUP');
        const afterFirst = [signal.aborted, abandon.aborted];
        process.emit('SIGHUP', 'SIGHUP');
        process.emit('SIGHUP', 'SIGHUP');
        const afterThird = [signal.aborted, abandon.aborted];
        expect(exits).toEqual([]);
        process.emit('SIGHUP', 'SIGHUP');
        return { afterFirst, afterThird };
      },
      { later: 'loadfleet down --env demo --yes', write: (t) => void written.push(t), exit: (c) => void exits.push(c) },
    );
    expect(seen).toEqual({ afterFirst: [true, false], afterThird: [true, true] });
    expect(exits).toEqual([130]);
    expect(written[3]).toMatch(/SIGHUP: exiting now; run `loadfleet down --env demo --yes` later/);
    for (const s of HANDLED_SIGNALS) expect(process.listenerCount(s)).toBe(before[s]);
  });
});
