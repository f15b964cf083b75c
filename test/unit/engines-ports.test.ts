/**
 * Every port an installer of JMeter, k6 or nGrinder writes is the port the synthesized security groups
 * open, between the same roles: the stack and the installers read one source (stacks/engines.ts).
 * The ports are read back from what the installers render (properties file, unit command lines,
 * download URL), not from the constants, so a port typed into an installer would fail here.
 */
import { describe, expect, it } from 'vitest';
import { JMETER_PORTS } from '../../stacks/engines';
import { jmeter, jmeterProperties, jmeterRunFacts, JMETER_PROPERTIES_FILE } from '../../scripts/engines/jmeter';
import { k6 } from '../../scripts/engines/k6';
import { ngrinderFor, NGRINDER_PINS } from '../../scripts/engines/ngrinder';
import type { InstallContext } from '../../scripts/engines/types';
import { rulesOn, synthStack } from '../harness/fixtures';

const ADMIN = '203.0.113.7/32';
const BASE_RULES = [`22<-${ADMIN}`, '9100<-monitoring'];

function ctx(role: InstallContext['role'], version: string, masterPort: number | null): InstallContext {
  return {
    env: 'demo',
    role,
    hostKind: 'ec2',
    host: role === 'controller' ? { name: 'controller', privateIp: '10.0.1.10' } : { name: 'agent-1', privateIp: '10.0.1.21' },
    master: masterPort === null ? null : { address: '10.0.1.10', port: masterPort },
    agents: [{ name: 'agent-1', privateIp: '10.0.1.21' }],
    version,
    nofile: 65536,
    cores: 2,
    login: 'ec2-user',
    cacheDir: '/opt/loadfleet-cache',
  };
}

/** Rules of a role other than SSH and node_exporter, which every role has whatever the engine. */
function engineRules(tf: ReturnType<typeof synthStack>['tf'], role: string): string[] {
  return rulesOn(tf, role).filter((r) => !BASE_RULES.includes(r));
}

/** The content of the file an install script writes with `put PATH MODE BASE64`. */
function putContent(script: string, path: string): string {
  const m = new RegExp(`^put '${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' \\d+ '([A-Za-z0-9+/=]+)'$`, 'm').exec(script);
  if (!m) throw new Error(`the script writes no ${path}`);
  return Buffer.from(m[1]!, 'base64').toString('utf8');
}

function properties(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('JMeter ports', () => {
  const { tf } = synthStack({ engine: 'jmeter' });
  const script = jmeter.installScript(ctx('agent', '5.6.3', 60001));
  const props = properties(putContent(script, JMETER_PROPERTIES_FILE));

  it('the installed properties file is the one every node reads', () => {
    expect(putContent(script, JMETER_PROPERTIES_FILE)).toBe(jmeterProperties());
    expect(putContent(jmeter.installScript(ctx('controller', '5.6.3', 60001)), JMETER_PROPERTIES_FILE)).toBe(jmeterProperties());
    expect(props['server.rmi.ssl.disable']).toBe('true');
  });

  it('opens on the agents exactly the registry and engine ports the servers use, from the controller only', () => {
    const service = jmeter.services(ctx('agent', '5.6.3', 60001))[0]!;
    expect(service.argv).toContain(`-Dserver_port=${props.server_port}`);
    expect(engineRules(tf, 'agent')).toEqual([`${props.server_port}<-controller`, `${props['server.rmi.localport']}<-controller`].sort());
  });

  it('opens on the controller client.rmi.localport+1 and +2, where JMeter 5.x listens, and not the base itself', () => {
    const base = Number(props['client.rmi.localport']);
    expect(base).toBe(JMETER_PORTS.clientBase);
    expect(engineRules(tf, 'controller')).toEqual([`${base + 1}-${base + 2}<-agent`]);
    expect(rulesOn(tf, 'controller')).not.toContain(`${base}<-agent`);
  });

  it('gives run the agents on the registry port the stack opens', () => {
    expect(jmeterRunFacts.remoteHostsArg(['10.0.1.21', '10.0.1.22'])).toEqual(['-R', `10.0.1.21:${props.server_port},10.0.1.22:${props.server_port}`]);
    expect(jmeterRunFacts.clientHostnameArg('10.0.1.10')).toBe('-Djava.rmi.server.hostname=10.0.1.10');
  });
});

describe('nGrinder ports', () => {
  const { tf } = synthStack({ engine: 'ngrinder' });
  // No checksum is published for the war: render with a fixture one given as the user would (engineSha256).
  const spec = ngrinderFor(NGRINDER_PINS);
  const controllerArgv = spec.services(ctx('controller', '3.5.9-p1', 16001))[0]!.argv;
  const agentArgv = spec.services(ctx('agent', '3.5.9-p1', 16001))[0]!.argv;
  const after = (argv: readonly string[], flag: string) => Number(argv[argv.indexOf(flag) + 1]);
  const prop = (argv: readonly string[], name: string) => Number(argv.find((a) => a.startsWith(`-D${name}=`))!.split('=')[1]);

  it('never opens the UI port to access.sshCidrs (admin/admin until install sets the password; plain HTTP): users reach it through loadfleet tunnel', () => {
    const ui = after(controllerArgv, '--port');
    expect(engineRules(tf, 'controller')).not.toContain(`${ui}<-${ADMIN}`);
  });

  it('opens the UI port to the agents: they download their package from controller:80/agent/download', () => {
    const ui = after(controllerArgv, '--port');
    expect(engineRules(tf, 'controller')).toContain(`${ui}<-agent`);
  });

  it('takes agents on the port opened to the agents, and the agents connect there', () => {
    const port = after(controllerArgv, '--controller-port');
    expect(after(agentArgv, '-cp')).toBe(port);
    expect(engineRules(tf, 'controller')).toContain(`${port}<-agent`);
  });

  it('bounds the test console ports to the range opened to the agents', () => {
    const first = prop(controllerArgv, 'controller.console_port_base');
    const count = prop(controllerArgv, 'controller.max_concurrent_test');
    expect(engineRules(tf, 'controller')).toContain(`${first}-${first + count - 1}<-agent`);
  });

  it('opens nothing else, and nothing on the agents', () => {
    const ui = after(controllerArgv, '--port');
    const first = prop(controllerArgv, 'controller.console_port_base');
    const count = prop(controllerArgv, 'controller.max_concurrent_test');
    expect(engineRules(tf, 'controller')).toEqual([`${ui}<-agent`, `${after(controllerArgv, '--controller-port')}<-agent`, `${first}-${first + count - 1}<-agent`].sort());
    expect(engineRules(tf, 'agent')).toEqual([]);
  });

  it('agents fetch their package from the UI port the controller serves', () => {
    const agentScript = spec.installScript(ctx('agent', '3.5.9-p1', 16001));
    expect(agentScript).toContain(`'http://10.0.1.10:${after(controllerArgv, '--port')}/agent/download'`);
  });
});

describe('k6 ports', () => {
  it('needs no port between controller and agents, and its installer opens none', () => {
    const { tf } = synthStack({ engine: 'k6' });
    expect(engineRules(tf, 'controller')).toEqual([]);
    expect(engineRules(tf, 'agent')).toEqual([]);
    expect(k6.services(ctx('agent', '2.0.0', null))).toEqual([]);
    expect(k6.installScript(ctx('agent', '2.0.0', null))).not.toMatch(/--address|:6565/);
  });
});
