import { Construct, SecurityGroup, VpcSecurityGroupIngressRule, VpcSecurityGroupEgressRule } from '../cdk';
import type { Role } from '../config';
import { MONITORING_PORTS, type Engine, type PortRange } from '../engines';
import { roleTags } from './tags';

export interface FleetSecurityProps {
  readonly env: string;
  readonly vpcId: string;
  readonly engine: Engine;
  /** Who may SSH and open the UIs (already validated: no 0.0.0.0/0 unless allowed). */
  readonly adminCidrs: readonly string[];
  /** Ports on the targets that generators may reach. */
  readonly targetPorts: readonly number[];
  readonly monitoring: boolean;
  /**
   * Private agents (issue 18): roles with hosts in the private subnet take SSH from the controller's group only;
   * access.sshCidrs reach only `publicRoles` (the controller, public targets). @default undefined: every role public
   */
  readonly door?: { readonly privateRoles: readonly Role[]; readonly publicRoles: readonly Role[] };
}

const ROLES: readonly Role[] = ['controller', 'agent', 'target', 'monitoring'];

/**
 * One security group per role. Rules are separate resources so groups can reference each other
 * without cycles; all rules sit one level below the groups, so they add no depth before instances.
 */
export class FleetSecurity extends Construct {
  readonly groupIds: Readonly<Record<Role, string>>;

  constructor(scope: Construct, id: string, props: FleetSecurityProps) {
    super(scope, id);
    const roles = ROLES.filter((r) => r !== 'monitoring' || props.monitoring);
    const ids: Partial<Record<Role, string>> = {};
    for (const role of roles) {
      const sg = new SecurityGroup(this, role, {
        name: `${props.env}-${role}`,
        description: `loadfleet ${props.env} ${role}`,
        vpcId: props.vpcId,
        tags: roleTags(props.env, role, `${props.env}-${role}`),
      });
      sg.overrideLogicalId(`sg_${role}`);
      ids[role] = sg.id;
      new VpcSecurityGroupEgressRule(this, `${role}-egress`, {
        securityGroupId: sg.id,
        ipProtocol: '-1',
        cidrIpv4: '0.0.0.0/0',
        description: 'all outbound (package installs, targets)',
      }).overrideLogicalId(`sg_${role}_egress`);
    }
    this.groupIds = ids as Record<Role, string>;

    const admin = (role: Role, port: PortRange) => {
      for (const cidr of props.adminCidrs) this.rule(role, port, { cidrIpv4: cidr });
    };
    const fromGroup = (role: Role, port: PortRange, source: Role) =>
      this.rule(role, port, { referencedSecurityGroupId: this.groupIds[source] }, source);

    const ssh = { from: 22, to: 22, description: 'SSH' };
    for (const role of roles) if (!props.door || props.door.publicRoles.includes(role)) admin(role, ssh);
    for (const role of roles) if (props.door?.privateRoles.includes(role) && role !== 'controller') fromGroup(role, ssh, 'controller');
    // No engine's UI is opened to access.sshCidrs (issue 20: Locust's answers on loopback only, nGrinder's takes
    // admin/admin until install sets it and plain HTTP): `loadfleet tunnel controller` reaches it.
    for (const p of props.engine.controllerFromAgents) fromGroup('controller', p, 'agent');
    for (const p of props.engine.agentsFromController) fromGroup('agent', p, 'controller');
    for (const port of props.targetPorts) {
      const range = { from: port, to: port, description: 'system under test' };
      fromGroup('target', range, 'agent');
      fromGroup('target', range, 'controller');
    }
    if (props.monitoring) {
      // Neither Grafana (3000: a password over plain HTTP) nor Prometheus (9090: no login; k6's remote-write
      // receiver takes any write) is open to sshCidrs: `loadfleet tunnel grafana|prometheus` reaches them (issue 20).
      const exporter = { from: MONITORING_PORTS.nodeExporter, to: MONITORING_PORTS.nodeExporter, description: 'node_exporter' };
      for (const role of roles) fromGroup(role, exporter, 'monitoring');
      // k6 agents push their metrics (Prometheus remote write); no other engine needs this path.
      if (props.engine.name === 'k6') fromGroup('monitoring', { from: MONITORING_PORTS.prometheus, to: MONITORING_PORTS.prometheus, description: 'Prometheus remote write (k6)' }, 'agent');
    }
  }

  private rule(role: Role, port: PortRange, source: { cidrIpv4?: string; referencedSecurityGroupId?: string }, from?: Role) {
    // Ids come from the rule's content, so adding a rule never renames (and replaces) another.
    const key = `${role}_${port.from}_${port.to}_from_${from ?? source.cidrIpv4?.replace(/[./]/g, '_')}`;
    new VpcSecurityGroupIngressRule(this, key, {
      securityGroupId: this.groupIds[role],
      ipProtocol: 'tcp',
      fromPort: port.from,
      toPort: port.to,
      description: from ? `${port.description} from ${from}` : port.description,
      ...source,
    }).overrideLogicalId(`sg_${key}`);
  }
}
