/**
 * cdktf, constructs and the provider resources, loaded through require. Why: imported from ESM under
 * tsx, each CommonJS module costs a loader-thread round trip plus a parse by Node's CJS export lexer
 * (the provider files are large); required, they load natively. Saves ~100 ms of every synth. Still one
 * submodule per resource, never the provider's package index. Types come from the same modules.
 */
import { createRequire } from 'node:module';
import type * as Cdktf from 'cdktf';
import type * as Constructs from 'constructs';
import type * as ProviderNs from '@cdktf/provider-aws/lib/provider';
import type * as KeyPairNs from '@cdktf/provider-aws/lib/key-pair';
import type * as DataAwsAmiNs from '@cdktf/provider-aws/lib/data-aws-ami';
import type * as InstanceNs from '@cdktf/provider-aws/lib/instance';
import type * as VpcNs from '@cdktf/provider-aws/lib/vpc';
import type * as SubnetNs from '@cdktf/provider-aws/lib/subnet';
import type * as IgwNs from '@cdktf/provider-aws/lib/internet-gateway';
import type * as RouteTableNs from '@cdktf/provider-aws/lib/route-table';
import type * as RtaNs from '@cdktf/provider-aws/lib/route-table-association';
import type * as SgNs from '@cdktf/provider-aws/lib/security-group';
import type * as IngressNs from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import type * as EgressNs from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import type * as EipNs from '@cdktf/provider-aws/lib/eip';
import type * as EipAssocNs from '@cdktf/provider-aws/lib/eip-association';
import type * as NatGatewayNs from '@cdktf/provider-aws/lib/nat-gateway';

const req = createRequire(import.meta.url);
const aws = <T>(name: string): T => req(`@cdktf/provider-aws/lib/${name}`) as T;

export const { App, LocalBackend, S3Backend, TerraformOutput, TerraformStack } = req('cdktf') as typeof Cdktf;
export type App = Cdktf.App;
export type TerraformStack = Cdktf.TerraformStack;
export type ITerraformDependable = Cdktf.ITerraformDependable;
export type TerraformProvider = Cdktf.TerraformProvider;
export const { Construct } = req('constructs') as typeof Constructs;
export type Construct = Constructs.Construct;

export const { AwsProvider } = aws<typeof ProviderNs>('provider');
export const { KeyPair } = aws<typeof KeyPairNs>('key-pair');
export const { DataAwsAmi } = aws<typeof DataAwsAmiNs>('data-aws-ami');
export const { Instance } = aws<typeof InstanceNs>('instance');
export type Instance = InstanceNs.Instance;
export const { Vpc } = aws<typeof VpcNs>('vpc');
export const { Subnet } = aws<typeof SubnetNs>('subnet');
export const { InternetGateway } = aws<typeof IgwNs>('internet-gateway');
export type InternetGateway = IgwNs.InternetGateway;
export const { RouteTable } = aws<typeof RouteTableNs>('route-table');
export const { RouteTableAssociation } = aws<typeof RtaNs>('route-table-association');
export const { SecurityGroup } = aws<typeof SgNs>('security-group');
export const { VpcSecurityGroupIngressRule } = aws<typeof IngressNs>('vpc-security-group-ingress-rule');
export const { VpcSecurityGroupEgressRule } = aws<typeof EgressNs>('vpc-security-group-egress-rule');
export const { Eip } = aws<typeof EipNs>('eip');
export type Eip = EipNs.Eip;
export const { EipAssociation } = aws<typeof EipAssocNs>('eip-association');
export const { NatGateway } = aws<typeof NatGatewayNs>('nat-gateway');
