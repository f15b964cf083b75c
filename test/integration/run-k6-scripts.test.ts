/**
 * The k6 run driver's sh (every script it sends to an agent) passes shellcheck as POSIX sh (Amazon Linux) and
 * dash (Debian), and its script check refuses JavaScript k6 could not load, with the parser's own message.
 * An integration test because it starts shellcheck and node (unit tests start no processes).
 */
import { describe, expect, it } from 'vitest';
import { k6Run } from '../../scripts/drivers/k6';
import { k6Commands } from '../../scripts/run/commands';
import {
  k6AgentPaths, k6CancelScript, k6ChunkScript, k6FilterScript, k6LogScript, k6PrepareScript, k6ReleaseScript, k6StartScript, k6StatusScript, k6StopScript, k6TickScript,
} from '../../scripts/run/k6-run';
import { resolveLoad } from '../../scripts/run/load';
import { shellcheck, type ShellScript } from '../harness/shellcheck';

describe('k6 run sh', () => {
  it('passes shellcheck, as sh and as dash', () => {
    const cmds = k6Commands({
      agents: [{ name: 'agent-1', privateIp: '10.0.1.21' }, { name: 'agent-2', privateIp: '10.0.1.22' }],
      plan: resolveLoad({ stages: [{ durationS: 10, target: 5 }, { durationS: 20, target: 0 }] }),
      script: k6AgentPaths('20261125-170000-ab12', '').script,
      runId: '20261125-170000-ab12',
      passthrough: ['-e', "GREETING=it's $HOME `x`", '--tag', 'team=a b'],
    });
    const inst = cmds[1]!;
    const paths = k6AgentPaths('20261125-170000-ab12', inst.rawFile);
    const texts: Record<string, string> = {
      prepare: k6PrepareScript(paths, 'import http from "k6/http";\nexport default function () { http.get(`${__ENV.BASE}/`); }\n'),
      start: k6StartScript(paths, inst, 420),
      status: k6StatusScript(paths, 4242, inst.apiAddress),
      release: k6ReleaseScript(paths, inst.apiAddress, Date.now() + 1500),
      tick: k6TickScript(4242, inst.apiAddress),
      stop: k6StopScript(paths, 4242, inst.apiAddress, 10),
      'stop (pid from the pid file)': k6StopScript(paths, undefined, inst.apiAddress, 10),
      cancel: k6CancelScript(paths),
      filter: k6FilterScript(paths),
      chunk: k6ChunkScript(paths, 3),
      log: k6LogScript(paths),
    };
    const scripts: ShellScript[] = Object.entries(texts).flatMap(([k, text]) => [
      { label: `k6 ${k} (sh)`, text: `#!/bin/sh\n${text}\n`, dialect: 'sh' as const },
      { label: `k6 ${k} (dash)`, text: `#!/bin/sh\n${text}\n`, dialect: 'dash' as const },
    ]);
    expect(shellcheck(scripts)).toEqual({});
  });
});

describe('k6 script check', () => {
  it('accepts a k6 script (ES module syntax, k6 imports unresolved)', async () => {
    await expect(k6Run.validate('ok.js', 'import http from "k6/http";\nimport { sleep } from "k6";\nexport const options = { thresholds: { http_req_failed: ["rate<0.01"] } };\nexport default function () { http.get("http://10.0.0.5/"); sleep(1); }\n')).resolves.toBeUndefined();
  });

  it('fails with exit 2 and the parser\'s message for a syntax error', async () => {
    const err = await k6Run.validate('bad.js', 'export default function () {\n  http.get("http://x/"\n}\n').catch((e: Error & { exitCode?: number }) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error & { exitCode: number }).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/bad\.js\) is not valid JavaScript[\s\S]*SyntaxError/);
  });
});
