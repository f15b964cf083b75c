/** Issue 20: the README's "what listens where" table is the list the local fleet's ss audit checks. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectedLocalListeners, LISTENERS, listenersTable } from '../../scripts/core/listeners';
import { synthStack, ingressRules } from '../harness/fixtures';

const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
const BEGIN = '<!-- listeners:begin (generated from scripts/core/listeners.ts) -->';
const END = '<!-- listeners:end -->';

describe('what listens where', () => {
  it('the README holds exactly the table the list renders', () => {
    const a = readme.indexOf(BEGIN);
    const b = readme.indexOf(END);
    expect(a, 'README.md lacks the listeners markers').toBeGreaterThan(0);
    expect(readme.slice(a + BEGIN.length, b).trim()).toBe(listenersTable());
  });

  it('no engine control port and no UI listens on all addresses unless the fleet\'s own hosts must reach it', () => {
    const loopbackOnly = LISTENERS.filter((r) => /web UI and API|REST API/.test(r.what) && !/nGrinder/.test(r.what));
    expect(loopbackOnly.map((r) => r.address)).toEqual(['loopback', 'loopback']);
    expect(expectedLocalListeners({ role: 'controller', engine: 'locust', monitoring: false, privateIp: '10.0.0.1', targetPorts: [] }).map((e) => `${e.address}:${e.port}`).sort()).toEqual(['0.0.0.0:5557', '10.0.0.1:22', '127.0.0.1:8089']);
  });

  it('every port reachable from sshCidrs in the synthesized security groups is SSH (the table\'s "reachable from" holds)', () => {
    for (const engine of ['locust', 'k6', 'jmeter', 'ngrinder', 'artillery'] as const) {
      const { tf } = synthStack({ engine });
      expect(ingressRules(tf).filter((r) => r.cidr_ipv4 !== undefined && r.from_port !== 22), engine).toEqual([]);
    }
  });
});
