import { describe, expect, it } from 'vitest';
import { downCommand } from '../../scripts/actions/up';

describe('the "run loadfleet down later" command', () => {
  it('quotes --home so a pasted command never expands $ or a backtick', () => {
    const home = "/tmp/a $HOME `id` 'q'";
    const cmd = downCommand('demo', home);
    expect(cmd).toBe(`loadfleet down --env demo --home '/tmp/a $HOME \`id\` '\\''q'\\''' --yes`);
    expect(downCommand('demo')).toBe('loadfleet down --env demo --yes');
  });
});
