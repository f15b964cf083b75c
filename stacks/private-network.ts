/**
 * Private agents behind one door (issue 18, part 1): the config fields, their checks, and the pure answers
 * every later step asks (which hosts are private, how they reach the internet). Kept apart from config.ts so
 * the feature reads in one place. Pure.
 */
import { z } from './zod';
import { parseCidr } from './cidr';
import type { FleetConfig } from './config';

export const AGENT_NETWORKS = ['public', 'private'] as const;
export const EGRESS_KINDS = ['nat-gateway', 'nat-instance', 'none'] as const;
export type Egress = (typeof EGRESS_KINDS)[number];

/** Fields added to `network:`. */
export const privateNetworkFields = {
  /**
   * public: every host gets a public IP (today's fleet). private: agents (and targets that ask for it) get no
   * public IP, in a private subnet; only the controller takes SSH from access.sshCidrs and is the jump host
   * for every other. @default public
   */
  agents: z.enum(AGENT_NETWORKS, { message: 'must be public or private' }).default('public'),
  /**
   * How private hosts reach the internet (packages, a target outside the VPC): nat-instance (cheap, one small
   * instance), nat-gateway (managed), none (a baked AMI and targets inside the VPC). Only with agents: private.
   * @default nat-instance with agents: private
   */
  egress: z.enum(EGRESS_KINDS, { message: 'must be nat-gateway, nat-instance or none' }).optional(),
  /** The private subnet of agents (and private targets). @default 10.42.16.0/20 */
  privateSubnetCidr: z
    .string()
    .refine((v) => parseCidr(v) !== undefined, { message: 'is not an IPv4 CIDR: write it as a.b.c.d/n, e.g. 10.42.16.0/20' })
    .default('10.42.16.0/20'),
  /** Instance type of the NAT instance (egress: nat-instance). @default t3.micro */
  natInstanceType: z
    .string()
    .regex(/^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/, { message: 'is not an EC2 instance type: write it like t3.micro' })
    .default('t3.micro'),
};

/** Field added to each `targets:` item. */
export const targetNetworkField = {
  /** private: this target group gets no public IP and sits beside the agents (needs network.agents: private). @default public */
  network: z.enum(AGENT_NETWORKS, { message: 'must be public or private' }).default('public'),
};

type Issue = { code: 'custom'; path: (string | number)[]; message: string };
type Ctx = { addIssue(issue: Issue): void };

function inside(inner: string, outer: string): boolean {
  const i = parseCidr(inner);
  const o = parseCidr(outer);
  if (!i || !o) return true; // reported by the field's own check
  return i.bits >= o.bits && Math.floor(i.base / 2 ** (32 - o.bits)) === Math.floor(o.base / 2 ** (32 - o.bits));
}

function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  const bits = Math.min(x.bits, y.bits);
  return Math.floor(x.base / 2 ** (32 - bits)) === Math.floor(y.base / 2 ** (32 - bits));
}

/** The cross-field checks: each names the field, its value and the fix. */
export function checkPrivateNetwork(c: FleetConfig, ctx: Ctx): void {
  const n = c.network;
  if (n.agents === 'public') {
    if (n.egress !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['network', 'egress'], message: `only applies with network.agents: private (public hosts go out through their own public IP): set network.agents: private, or remove network.egress` });
    }
    c.targets.forEach((t, i) => {
      if (t.network === 'private') {
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'network'], message: 'needs network.agents: private (the private subnet and the door through the controller come with it): set network.agents: private, or make this target public' });
      }
    });
    return;
  }
  if (!inside(n.privateSubnetCidr, n.vpcCidr)) {
    ctx.addIssue({ code: 'custom', path: ['network', 'privateSubnetCidr'], message: `must lie inside network.vpcCidr (${n.vpcCidr}), e.g. 10.42.16.0/20` });
  } else if (overlaps(n.privateSubnetCidr, n.subnetCidr)) {
    ctx.addIssue({ code: 'custom', path: ['network', 'privateSubnetCidr'], message: `overlaps network.subnetCidr (${n.subnetCidr}), the public subnet: give the private subnet its own range inside ${n.vpcCidr}` });
  }
}

/** True when the config asks for private agents. */
export function privateAgents(c: Pick<FleetConfig, 'network'>): boolean {
  return c.network.agents === 'private';
}

/** How private hosts reach the internet; undefined for a public fleet (each host has its own public IP). */
export function egressOf(c: Pick<FleetConfig, 'network'>): Egress | undefined {
  if (c.network.agents !== 'private') return undefined;
  return c.network.egress ?? 'nat-instance';
}

/**
 * Whether a host group sits in the private subnet (no public IP). The controller never does: it is the door
 * and the only host access.sshCidrs reach. Monitoring goes private with the agents (Grafana and Prometheus
 * through `loadfleet tunnel`, which jumps through the controller).
 */
export function isPrivateGroup(c: Pick<FleetConfig, 'network' | 'targets'>, role: 'controller' | 'agent' | 'target' | 'monitoring', targetName?: string): boolean {
  if (c.network.agents !== 'private') return false;
  if (role === 'agent' || role === 'monitoring') return true;
  if (role === 'target') return c.targets.find((t) => t.name === targetName)?.network === 'private';
  return false;
}
