import { Construct, Instance, type ITerraformDependable, type TerraformProvider } from '../cdk';
import type { Role } from '../config';
import { hostName, type HostGroupSpec } from '../topology';
import { roleTags } from './tags';

/** How a group's instances are bought. */
export type Capacity = { readonly kind: 'on-demand' } | { readonly kind: 'spot'; readonly maxPrice?: string };
export const Capacity = {
  onDemand: (): Capacity => ({ kind: 'on-demand' }),
  spot: (maxPrice?: string): Capacity => ({ kind: 'spot', maxPrice }),
};

export interface HostGroupProps {
  readonly env: string;
  readonly spec: HostGroupSpec;
  readonly amiId: string;
  readonly subnetId: string;
  readonly securityGroupId: string;
  readonly keyName: string;
  readonly userData: string;
  /** Root volume size in GiB. @default 20 (filled by the config) */
  readonly rootVolumeGb: number;
  /** @default Capacity.onDemand() */
  readonly capacity?: Capacity;
  /** EC2 detailed monitoring. @default false */
  readonly detailedMonitoring?: boolean;
  readonly dependsOn?: ITerraformDependable[];
  /** The provider alias of the group's region. @default the stack's default provider */
  readonly provider?: TerraformProvider;
  /** A public IP on each instance; false in the private subnet (issue 18). @default true */
  readonly publicIp?: boolean;
}

/**
 * N identical instances of one role, as one counted resource: width costs no extra dependency level.
 * IMDSv2 only, encrypted gp3 root volume, terminate on shutdown (the dead-man switch relies on it).
 */
export class HostGroup extends Construct {
  readonly instances: Instance;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: HostGroupProps) {
    super(scope, id);
    const { spec, env } = props;
    const capacity = props.capacity ?? Capacity.onDemand();
    this.role = spec.role;
    const name = spec.singleton
      ? `${env}-${hostName(spec, 0)}`
      : // A Terraform expression, evaluated per instance (cdktf passes "${...}" through untouched).
        `${env}-${spec.namePrefix}-\${count.index + ${1 + (spec.offset ?? 0)}}`;
    const tags = roleTags(env, spec.role, name);
    this.instances = new Instance(this, 'instances', {
      count: spec.singleton ? undefined : spec.count,
      ami: props.amiId,
      instanceType: spec.instanceType,
      subnetId: props.subnetId,
      vpcSecurityGroupIds: [props.securityGroupId],
      keyName: props.keyName,
      associatePublicIpAddress: props.publicIp ?? true,
      // Tags in metadata: the dead-man switch reads its expiry tag from there (stacks/deadman.ts).
      metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 1, instanceMetadataTags: 'enabled' },
      rootBlockDevice: { encrypted: true, volumeType: 'gp3', volumeSize: props.rootVolumeGb, deleteOnTermination: true, tags },
      instanceInitiatedShutdownBehavior: 'terminate',
      userData: props.userData,
      monitoring: props.detailedMonitoring ?? false,
      instanceMarketOptions:
        capacity.kind === 'spot'
          ? {
              marketType: 'spot',
              spotOptions: { spotInstanceType: 'one-time', instanceInterruptionBehavior: 'terminate', maxPrice: capacity.maxPrice },
            }
          : undefined,
      tags,
      dependsOn: props.dependsOn,
      provider: props.provider,
    });
    this.instances.overrideLogicalId(spec.id);
  }
}
