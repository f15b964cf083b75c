/**
 * JMeter on EC2: Amazon Corretto 17 and the Apache binary release (pinned sha512) on the controller and
 * every agent; `jmeter-server` supervised on every agent, reachable on the fixed RMI ports of
 * stacks/engines.ts JMETER_PORTS (the same constants the security groups are built from). The client
 * runs on the controller only during `run`, which builds its command line from jmeterRunFacts below.
 *
 * RMI over SSL (JMeter's default since 4.0) is switched off on client and servers alike
 * (server.rmi.ssl.disable=true): the RMI ports are open only between the controller's and the agents'
 * security groups (group-to-group rules inside the VPC, never a CIDR), so nothing outside the fleet can
 * reach them, and JMeter's own keystore tool makes a 7-day certificate that would have to be generated,
 * copied to every node and renewed for each env. See README, "JMeter, k6 and nGrinder (AWS only)".
 *
 * Not runnable on the local target: Debian's jmeter 2.13 cannot load a plan on this machine (xstream's
 * ForbiddenClassException for org.apache.jmeter.save.ScriptWrapper, before any sample).
 */
import { JMETER_PORTS, jmeterClientPorts } from '../../stacks/engines';
import pinsJson from '../../ami/engines/jmeter.json';
import { correttoStep, ETC, tcpReachScript, installTarballStep, javaHome, OPT, pinnedArtifact, preamble, putFile, requireEc2, shQuote, systemUserStep, VAR, type EnginePins } from './ec2-steps';
import type { DoctorContext, EngineSpec, HostCheck, InstallContext, ServiceSpec } from './types';

export const JMETER_PINS: EnginePins = pinsJson;

const USER = 'jmeter';
const STATE = `${VAR}/jmeter`;
/** The properties file every node reads with `-q` (the client too): ports, SSL, report settings. */
export const JMETER_PROPERTIES_FILE = `${ETC}/jmeter.properties`;

export function jmeterHome(version: string): string {
  return `${OPT}/jmeter/apache-jmeter-${version}`;
}

/** Properties shared by the client and the servers; every port comes from stacks/engines.ts. */
export function jmeterProperties(): string {
  return [
    '# written by loadfleet install: do not edit (rerun install). Ports: stacks/engines.ts JMETER_PORTS.',
    `server_port=${JMETER_PORTS.registry}`,
    `server.rmi.localport=${JMETER_PORTS.serverLocal}`,
    `# The client listens on client.rmi.localport+1 and +2 (${jmeterClientPorts().from}-${jmeterClientPorts().to}), which the controller's group opens to the agents.`,
    `client.rmi.localport=${JMETER_PORTS.clientBase}`,
    '# RMI without SSL: the ports are open only between the fleet\'s own security groups (README, "JMeter, k6 and nGrinder (AWS only)").',
    'server.rmi.ssl.disable=true',
    '# Exact dashboard percentiles: use every sample, not the last 20000.',
    'jmeter.reportgenerator.statistic_window=-1',
    '',
  ].join('\n');
}

function installScript(ctx: InstallContext): string {
  requireEc2('jmeter', ctx);
  const a = pinnedArtifact(JMETER_PINS, ctx.version, 'apache-jmeter');
  return [
    ...preamble('jmeter'),
    ...correttoStep(17),
    ...systemUserStep(USER, STATE),
    ...installTarballStep(a, `${OPT}/jmeter`, `apache-jmeter-${ctx.version}`, 'bin/ApacheJMeter.jar'),
    putFile(`${OPT}/jmeter/VERSION`, '0644', `${ctx.version}\n`),
    // Older trees would keep their own bin/ on disk only; the units name the version's path.
    `for d in ${OPT}/jmeter/apache-jmeter-*; do [ "$d" = ${shQuote(jmeterHome(ctx.version))} ] || [ ! -d "$d" ] || { rm -rf "$d"; echo "changed removed $d"; }; done`,
    putFile(JMETER_PROPERTIES_FILE, '0644', jmeterProperties()),
    `mkdir -p ${STATE}/runs && chown ${USER}: ${STATE}/runs`,
    'exit 0',
    '',
  ].join('\n');
}

/** jmeter-server on every agent, announcing the agent's private IP (else RMI hands out 127.0.0.1-style names). */
function services(ctx: InstallContext): readonly ServiceSpec[] {
  requireEc2('jmeter', ctx);
  if (ctx.role !== 'agent') return [];
  return [
    {
      name: 'jmeter-server',
      argv: [
        `${jmeterHome(ctx.version)}/bin/jmeter`,
        '-s',
        '-q',
        JMETER_PROPERTIES_FILE,
        `-Djava.rmi.server.hostname=${ctx.host.privateIp}`,
        `-Dserver_port=${JMETER_PORTS.registry}`,
        '-j',
        `${STATE}/jmeter-server.log`,
      ],
      env: { JAVA_HOME: javaHome(17), PATH: `${javaHome(17)}/bin:/usr/local/bin:/usr/bin:/bin` },
      workDir: STATE,
      processPattern: 'ApacheJMeter\\.jar.* -s',
      user: USER,
    },
  ];
}

/** sh printing the installed JMeter version (nothing when not installed). */
function versionScript(): string {
  return `cat ${OPT}/jmeter/VERSION 2>/dev/null || true\n`;
}

/**
 * Controller: every agent's jmeter-server answers on the registry and engine ports, seen from the
 * controller (the side that calls them). The callback ports (client.rmi.localport+1, +2) have a listener
 * only while a test runs, so they cannot be probed here; the stack opens them (stacks/engines.ts).
 */
function checks(ctx: DoctorContext): readonly HostCheck[] {
  if (ctx.role !== 'controller') return [];
  const endpoints = ctx.agents.flatMap((a) => [
    { name: `${a.name}/registry`, ip: a.privateIp, port: JMETER_PORTS.registry },
    { name: `${a.name}/engine`, ip: a.privateIp, port: JMETER_PORTS.serverLocal },
  ]);
  return [{ name: 'controller reaches every jmeter-server', script: tcpReachScript('jmeter-server RMI ports', endpoints) }];
}

export const jmeter: EngineSpec = {
  name: 'jmeter',
  defaultVersion: JMETER_PINS.default,
  versions: JMETER_PINS.versions,
  localUnsupported:
    "JMeter runs on EC2 only: Debian's jmeter 2.13 cannot load a test plan on this machine (xstream ForbiddenClassException on org.apache.jmeter.save.ScriptWrapper)",
  roles: ['controller', 'agent'],
  installScript,
  services,
  versionScript,
  checks,
};

/**
 * What `run` needs to drive a distributed JMeter test from the controller; scripts/run/ writes the
 * command line itself. The client gets every sample from the servers (StrippedBatch) and writes one
 * merged JTL: the agents keep no results of their own.
 */
export const jmeterRunFacts = {
  /** The launcher on every node. */
  bin: (version: string) => `${jmeterHome(version)}/bin/jmeter`,
  javaHome: javaHome(17),
  /** `-q FILE`: ports, SSL off and statistic_window=-1 for the client, exactly as the servers have them. */
  propertiesArgs: ['-q', JMETER_PROPERTIES_FILE] as const,
  /** The client must announce the controller's private IP, or agents call back to a name they cannot reach. */
  clientHostnameArg: (controllerPrivateIp: string) => `-Djava.rmi.server.hostname=${controllerPrivateIp}`,
  /** `-R` value: every agent's jmeter-server, by private IP, on the registry port the agents' group opens. */
  remoteHostsArg: (agentPrivateIps: readonly string[]) => ['-R', agentPrivateIps.map((ip) => `${ip}:${JMETER_PORTS.registry}`).join(',')] as const,
  /** A property for every server (`-Gname=value`); a load option, not a port. */
  globalPropertyArg: (name: string, value: string) => `-G${name}=${value}`,
  /** Stop the servers' engines at the end of the test (the services restart them). */
  exitServersArg: '-X',
  /** Non-GUI mode. */
  nonGuiArg: '-n',
  /** Raw results: one merged JTL on the controller, then `-e -o DIR` for the HTML dashboard. */
  resultsArgs: (runDir: string) => ['-l', `${runDir}/res.jtl`, '-e', '-o', `${runDir}/dashboard`] as const,
  /** Also set in the properties file; repeated so a run line reads complete. */
  exactPercentilesProperty: 'jmeter.reportgenerator.statistic_window=-1',
  /** Where each role leaves raw results. */
  results: {
    controller: { dir: `${STATE}/runs`, files: '<run>/res.jtl (CSV JTL, every sample of every agent), <run>/dashboard/', owner: USER },
    agent: { dir: STATE, files: 'jmeter-server.log only: samples go to the client', owner: USER },
  },
} as const;
