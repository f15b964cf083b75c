/** Issue 22 item 11: config problems in a reader's words, and "did you mean" for misspelt fields. */
import { describe, expect, it } from 'vitest';
import { ConfigError, validateFleetConfig } from '../../stacks/config';

const base = { name: 'demo', access: { sshCidrs: ['203.0.113.7/32'] }, keyPair: { publicKeyPath: 'k.pub' } };
const problems = (raw: unknown) => {
  try {
    validateFleetConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
};

describe('config problems in plain words (issue 22)', () => {
  it('says "a list" and "a whole number", never "a array" or "a int"', () => {
    const got = problems({ ...base, targets: 'app', agents: { count: 1.5 } });
    expect(got).toContain('targets: must be a list');
    expect(got.join('\n')).not.toMatch(/must be a (array|int)\b/);
    expect(got.find((p) => p.startsWith('agents.count'))).toMatch(/whole number/);
  });

  it('fails on a misspelt field with "did you mean" the known one (acess, keypair, nofiles)', () => {
    const { access, keyPair, ...rest } = base;
    const got = problems({ ...rest, acess: access, keypair: keyPair, tuning: { nofiles: 16384 } });
    expect(got).toContain('acess: is not a known field: did you mean access? remove it or check its spelling (see the config reference in README.md)');
    expect(got.find((p) => p.startsWith('keypair:'))).toMatch(/did you mean keyPair\?/);
    expect(got.find((p) => p.startsWith('tuning.nofiles:'))).toMatch(/did you mean tuning\.nofile\?/);
    // nothing close: no guess
    expect(problems({ ...base, zzzzzz: 1 })[0]).toBe('zzzzzz: is not a known field: remove it or check its spelling (see the config reference in README.md)');
  });
});
