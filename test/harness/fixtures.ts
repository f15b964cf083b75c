import { Testing } from 'cdktf';
import { ConfigError, validateFleetConfig, type FleetConfigInput } from '../../stacks/config';
import { FleetStack } from '../../stacks/fleet-stack';

export const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW test@loadfleet';
export const EXPIRES = '2026-11-24T04:00:00Z';

/** A minimal valid config, with overrides. */
/** The problems validation reports for `raw` (it must be refused: a config that passes is an error here). */
export function problemsOf(raw: unknown): { path: string; value: unknown; message: string }[] {
  try {
    validateFleetConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
}

export function configInput(overrides: Partial<FleetConfigInput> = {}): FleetConfigInput {
  return { name: 'demo', access: { sshCidrs: ['203.0.113.7/32'] }, keyPair: { publicKeyPath: 'k.pub' }, ...overrides };
}

export function synthStack(overrides: Partial<FleetConfigInput> = {}, props: { expiresAt?: string } = {}): { json: string; tf: TfJson } {
  const app = Testing.app();
  const config = validateFleetConfig(configInput(overrides));
  const stack = new FleetStack(app, 'loadfleet-demo', { config, publicKey: PUBLIC_KEY, expiresAt: props.expiresAt ?? EXPIRES, localStatePath: 'terraform.tfstate' });
  const json = Testing.synth(stack);
  return { json, tf: JSON.parse(json) as TfJson };
}

export interface TfJson {
  provider: { aws: { default_tags: { tags: Record<string, string> }[]; region: string }[] };
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  output: Record<string, { value: unknown }>;
  terraform: { backend?: Record<string, unknown> };
}

export type Rule = { security_group_id: string; from_port: number; to_port: number; cidr_ipv4?: string; referenced_security_group_id?: string };

export function ingressRules(tf: TfJson): Rule[] {
  return Object.values(tf.resource.aws_vpc_security_group_ingress_rule ?? {}) as unknown as Rule[];
}

/** Rules on one role's group, as "port<-source" strings (source: a CIDR or a role). */
export function rulesOn(tf: TfJson, role: string): string[] {
  return ingressRules(tf)
    .filter((r) => r.security_group_id === `\${aws_security_group.sg_${role}.id}`)
    .map((r) => {
      const port = r.from_port === r.to_port ? `${r.from_port}` : `${r.from_port}-${r.to_port}`;
      const src = r.cidr_ipv4 ?? r.referenced_security_group_id?.replace(/^\$\{aws_security_group\.sg_(\w+)\.id\}$/, '$1');
      return `${port}<-${src}`;
    })
    .sort();
}
