/**
 * nGrinder's agent side as upstream really behaves, with stand-ins that follow naver/ngrinder at the pinned tag
 * ngrinder-3.5.9-p1-20240613 (nGrinder itself cannot run on this machine):
 * - the controller's GET /agent/download answers 302 to /agent/download/<package>.tar
 *   (ngrinder-controller/src/main/java/org/ngrinder/agent/controller/AgentDownloadController.java, downloadFile:
 *   `return "redirect:/agent/download/" + agentPackage.getName()`): the agent install's own curl flags must
 *   follow it and save the tar, not the redirect;
 * - the agent's argument parser (ngrinder-core/src/main/java/org/ngrinder/NGrinderAgentStarterParam.java,
 *   JCommander 1.32) rejects an unknown option and exits (`System.exit(-1)` after "[Configuration Error]"):
 *   the supervised service's argv must hold only options it declares (-o/--overwrite-config went in 3.5.0).
 */
import { execa } from 'execa';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NGRINDER_PORTS } from '../../stacks/engines';
import { ngrinder, NGRINDER_WAR } from '../../scripts/engines/ngrinder';
import type { InstallContext } from '../../scripts/engines/types';
import { requireTool } from '../harness/tools';

const ctx = (role: InstallContext['role']): InstallContext => ({
  env: 'demo', role, hostKind: 'ec2',
  host: role === 'controller' ? { name: 'controller', privateIp: '10.0.1.10' } : { name: 'agent-1', privateIp: '10.0.1.21' },
  master: { address: '10.0.1.10', port: NGRINDER_PORTS.agentController },
  agents: [{ name: 'agent-1', privateIp: '10.0.1.21' }],
  version: '3.5.9-p1', nofile: 65536, cores: 2, login: 'ec2-user', cacheDir: '/opt/loadfleet-cache',
  digests: { [NGRINDER_WAR]: '0'.repeat(64) },
});

let dir: string;
beforeAll(() => {
  requireTool('curl', 'apt-get install curl');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loadfleet-ngr-standin-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('GET /agent/download answers 302 (AgentDownloadController, ngrinder-3.5.9-p1-20240613)', () => {
  let server: http.Server;
  let base = '';
  let tar: Buffer;
  beforeAll(async () => {
    const src = path.join(dir, 'pkg');
    fs.mkdirSync(path.join(src, 'ngrinder-agent/lib'), { recursive: true });
    fs.writeFileSync(path.join(src, 'ngrinder-agent/run_agent.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(src, 'ngrinder-agent/lib/ngrinder-core-3.5.9-p1.jar'), 'jar');
    await execa('tar', ['-cf', path.join(dir, 'agent.tar'), '-C', src, 'ngrinder-agent']);
    tar = fs.readFileSync(path.join(dir, 'agent.tar'));
    server = http.createServer((req, res) => {
      if (req.url === '/agent/download') {
        // Spring's "redirect:" view: 302 with a Location and an empty body.
        res.writeHead(302, { Location: '/agent/download/ngrinder-agent-3.5.9-p1-10.0.1.10.tar' });
        res.end();
      } else if (req.url === '/agent/download/ngrinder-agent-3.5.9-p1-10.0.1.10.tar') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(tar);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("the agent install's curl follows the redirect and saves the package", async () => {
    const script = ngrinder.installScript(ctx('agent'));
    const m = /until curl (.+?) -o "\$tmp\/agent\.tar" '(http:\/\/10\.0\.1\.10:80\/agent\/download)'; do/.exec(script);
    expect(m, 'the agent script downloads its package with curl from controller:80/agent/download').not.toBeNull();
    // The same flags, pointed at the stand-in instead of controller:80.
    const out = path.join(dir, 'got.tar');
    const r = await execa('sh', ['-c', `curl ${m![1]} -o "$1" "$2"`, 'sh', out, `${base}/agent/download`], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(fs.readFileSync(out).equals(tar)).toBe(true);
    const list = await execa('tar', ['-tf', out]);
    expect(list.stdout.split('\n')).toContain('ngrinder-agent/run_agent.sh');
  });
});

/**
 * The options NGrinderAgentStarterParam declares for the agent (ngrinder-3.5.9-p1-20240613): those taking a value,
 * and the flags. Anything else: JCommander 1.32 throws ParameterException "Unknown option", and parse() prints
 * "[Configuration Error]" and calls System.exit(-1) (exit status 255).
 */
const WITH_VALUE = ['-m', '-mode', '--mode', '-c', '-command', '--command', '-ch', '--controller-host', '-cp', '--controller-port', '-sb', '--subregion', '-onr', '--owner', '-hi', '--host-id', '-ah', '--agent-home'];
const FLAGS = ['-s', '--silent', '-v', '--version', '-help', '-?', '-h'];
const PARSER = `#!/bin/sh
# Stand-in for run_agent.sh → NGrinderAgentStarter's JCommander parse (see the file comment above).
while [ $# -gt 0 ]; do
  case " ${WITH_VALUE.join(' ')} " in *" $1 "*) [ $# -ge 2 ] || { echo "[Configuration Error]" >&2; echo "Expected a value after parameter $1" >&2; exit 255; }; shift 2; continue;; esac
  case " ${FLAGS.join(' ')} " in *" $1 "*) shift; continue;; esac
  case "$1" in -D*) shift; continue;; esac
  echo "[Configuration Error]" >&2; echo "Unknown option: $1" >&2; exit 255
done
echo "agent started"
`;

describe("the agent's argument parser (NGrinderAgentStarterParam, JCommander 1.32)", () => {
  const parser = () => {
    const f = path.join(dir, 'run_agent.sh');
    fs.writeFileSync(f, PARSER, { mode: 0o755 });
    return f;
  };

  it('rejects an unknown option as upstream does (the stand-in is strict)', async () => {
    const r = await execa(parser(), ['-o', '-ch', '10.0.1.10'], { reject: false });
    expect(r.exitCode).toBe(255);
    expect(r.stderr).toContain('Unknown option: -o');
  });

  it("accepts the supervised service's argv: the agent starts instead of crash-looping", async () => {
    const [service] = ngrinder.services(ctx('agent'));
    expect(service!.argv[0]).toBe('/opt/loadfleet/ngrinder-agent/run_agent.sh');
    const r = await execa(parser(), service!.argv.slice(1), { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('agent started');
  });
});
