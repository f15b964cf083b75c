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
  /** Ports the controller must accept from the agents' security group. */
  readonly controllerFromAgents: readonly PortRange[];
  /** Ports the agents must accept from the controller's security group. */
  readonly agentsFromController: readonly PortRange[];
  /** The controller's web UI, reachable from access.sshCidrs; null when there is none. */
  readonly uiPort: number | null;
  /** Process patterns (pgrep -f) of a running agent, for verifying its limits. */
  readonly agentProcess: string;
  /** systemd unit that runs the agent; gets LimitNOFILE/TasksMax drop-ins. */
  readonly agentUnit: string;
}

const one = (port: number, description: string): PortRange => ({ from: port, to: port, description });

export const Engine = {
  /** nGrinder: agents connect to the controller on 16001; tests stream over 12000-12009. */
  ngrinder: (): Engine => ({
    name: 'ngrinder',
    masterPort: 16001,
    controllerFromAgents: [one(16001, 'nGrinder agent controller'), { from: 12000, to: 12009, description: 'nGrinder console ports' }],
    agentsFromController: [],
    uiPort: 80,
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
    agentProcess: '(^|/)k6 run',
    agentUnit: 'k6-agent.service',
  }),
  /**
   * JMeter distributed mode: the controller (client) calls the agents' RMI registry (1099) and fixed
   * server.rmi.localport (50000); agents send results back to the client's fixed client.rmi.localport (60000).
   */
  jmeter: (): Engine => ({
    name: 'jmeter',
    masterPort: 60000,
    controllerFromAgents: [one(60000, 'JMeter client.rmi.localport (results)')],
    agentsFromController: [one(1099, 'JMeter RMI registry'), one(50000, 'JMeter server.rmi.localport')],
    uiPort: null,
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
    agentProcess: 'artillery.*run',
    agentUnit: 'artillery-agent.service',
  }),
} as const satisfies Record<EngineName, () => Engine>;

export function engineOf(name: EngineName): Engine {
  return Engine[name]();
}

/** Ports on the monitoring host. */
export const MONITORING_PORTS = { prometheus: 9090, grafana: 3000, nodeExporter: 9100 } as const;
