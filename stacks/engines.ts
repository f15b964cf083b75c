/**
 * What each load-testing engine needs from the network. Pure data: the stacks derive security-group
 * rules from it, the inventory derives the master address from it, install (later) the units.
 */
export const ENGINE_NAMES = ['ngrinder', 'locust', 'k6', 'jmeter', 'artillery'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface PortRange {
  readonly from: number;
  readonly to: number;
  readonly description: string;
}

export interface Engine {
  readonly name: EngineName;
  /** Where agents connect to the controller; null when agents never connect (k6). */
  readonly masterPort: number | null;
  /**
   * True when nothing listens on masterPort between runs (JMeter: the client's callback ports exist only while
   * `jmeter -n -R …` runs on the controller), so doctor cannot probe it before a run. @default false
   */
  readonly masterOnlyDuringRun?: boolean;
  /** Ports the controller must accept from the agents' security group. */
  readonly controllerFromAgents: readonly PortRange[];
  /** Ports the agents must accept from the controller's security group. */
  readonly agentsFromController: readonly PortRange[];
  /** The controller's web UI; null when there is none. Never opened to access.sshCidrs: people use `loadfleet tunnel controller`. */
  readonly uiPort: number | null;
  /**
   * Where the UI listens: 'loopback' = the controller's 127.0.0.1 only (`run` calls it over SSH on the
   * controller); 'fleet' = every interface, but the security groups let only the fleet's own hosts reach it
   * (nGrinder: agents download their package from it; it has no bind-address option). Ignored when uiPort is null.
   */
  readonly uiReach: 'loopback' | 'fleet';
  /** Process patterns (pgrep -f) of a running agent, for verifying its limits. */
  readonly agentProcess: string;
  /** systemd unit that runs the agent; gets LimitNOFILE/TasksMax drop-ins. */
  readonly agentUnit: string;
}

const one = (port: number, description: string): PortRange => ({ from: port, to: port, description });

/**
 * JMeter's fixed RMI ports: the one source for the security groups (below) and the installers
 * (scripts/engines/jmeter.ts writes them into the properties file every node reads).
 */
export const JMETER_PORTS = {
  /** server_port: the RMI registry in each jmeter-server. */
  registry: 1099,
  /** server.rmi.localport: the engine object each jmeter-server exports. */
  serverLocal: 50000,
  /** client.rmi.localport: the BASE of the client's listeners, which bind base+1 and base+2. */
  clientBase: 60000,
} as const;

/** The ports the JMeter client really listens on for agent callbacks: client.rmi.localport + 1 and + 2. */
export function jmeterClientPorts(): { readonly from: number; readonly to: number } {
  return { from: JMETER_PORTS.clientBase + 1, to: JMETER_PORTS.clientBase + 2 };
}

/** nGrinder's ports: the one source for the security groups (below) and the installer (scripts/engines/ngrinder.ts). */
export const NGRINDER_PORTS = {
  /**
   * Web UI and REST API of the controller, and the agent package (/agent/download). Opened to the agents'
   * group only (they fetch their package there), never to access.sshCidrs: the controller starts as admin/admin
   * until install sets the password, and serves plain HTTP. People reach it through `loadfleet tunnel controller`.
   */
  ui: 80,
  /** controller.controller_port: where agents connect. */
  agentController: 16001,
  /** controller.console_port_base: one console port per concurrent test from here. */
  consoleBase: 12000,
  /** controller.max_concurrent_test: bounds the console ports to consoleBase … consoleBase+9. */
  maxConcurrentTests: 10,
} as const;

export const Engine = {
  /** nGrinder: agents connect to the controller on 16001; tests stream over 12000-12009 (one port per concurrent test). */
  ngrinder: (): Engine => ({
    name: 'ngrinder',
    masterPort: NGRINDER_PORTS.agentController,
    controllerFromAgents: [
      one(NGRINDER_PORTS.ui, 'nGrinder agent package download (/agent/download)'),
      one(NGRINDER_PORTS.agentController, 'nGrinder agent controller'),
      { from: NGRINDER_PORTS.consoleBase, to: NGRINDER_PORTS.consoleBase + NGRINDER_PORTS.maxConcurrentTests - 1, description: 'nGrinder console ports' },
    ],
    agentsFromController: [],
    uiPort: NGRINDER_PORTS.ui,
    uiReach: 'fleet',
    agentProcess: 'ngrinder.*agent|org.ngrinder.NGrinderAgentStarter',
    agentUnit: 'ngrinder-agent.service',
  }),
  /** Locust: workers connect to the master on 5557 (ZeroMQ). */
  locust: (): Engine => ({
    name: 'locust',
    masterPort: 5557,
    controllerFromAgents: [one(5557, 'Locust master')],
    agentsFromController: [],
    uiPort: 8089,
    // An open Locust UI lets anyone who reaches it POST /swarm (point the fleet at any host) or /stop a run.
    uiReach: 'loopback',
    agentProcess: 'locust.*--worker',
    // A template: one instance per core (locust-worker@1 …); the drop-in on the template applies to all.
    agentUnit: 'locust-worker@.service',
  }),
  /** k6: no master; the controller drives agents over SSH. */
  k6: (): Engine => ({
    name: 'k6',
    masterPort: null,
    controllerFromAgents: [],
    agentsFromController: [],
    uiPort: null,
    uiReach: 'fleet',
    agentProcess: '(^|/)k6 run',
    agentUnit: 'k6-agent.service',
  }),
  /**
   * JMeter distributed mode: the controller (client) calls the agents' RMI registry and their fixed
   * server.rmi.localport; the agents call back the client's two listeners. With client.rmi.localport=B
   * JMeter 5.x listens on B+1 (RemoteThreadsListenerImpl) and B+2 (RemoteSampleListenerImpl), never on B
   * (2.13 used B itself): opening B alone loses every callback. See JMETER_PORTS.
   */
  jmeter: (): Engine => ({
    name: 'jmeter',
    masterPort: jmeterClientPorts().from,
    masterOnlyDuringRun: true,
    controllerFromAgents: [{ ...jmeterClientPorts(), description: 'JMeter client callbacks (client.rmi.localport+1, +2)' }],
    agentsFromController: [one(JMETER_PORTS.registry, 'JMeter RMI registry (server_port)'), one(JMETER_PORTS.serverLocal, 'JMeter server.rmi.localport')],
    uiPort: null,
    uiReach: 'fleet',
    agentProcess: 'ApacheJMeter.jar.*-s|jmeter-server',
    agentUnit: 'jmeter-server.service',
  }),
  /** Artillery: no master, no daemon; every agent is an independent generator that `run` starts over SSH. */
  artillery: (): Engine => ({
    name: 'artillery',
    masterPort: null,
    controllerFromAgents: [],
    agentsFromController: [],
    uiPort: null,
    uiReach: 'fleet',
    agentProcess: 'artillery.*run',
    agentUnit: 'artillery-agent.service',
  }),
} as const satisfies Record<EngineName, () => Engine>;

export function engineOf(name: EngineName): Engine {
  return Engine[name]();
}

/** Ports on the monitoring host. */
export const MONITORING_PORTS = { prometheus: 9090, grafana: 3000, nodeExporter: 9100 } as const;
