/** What `status` asks EC2 live: every instance carrying the env's tag, in any state but long gone. */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import type { Ec2Port } from './ec2';
import { ExternalError } from '../core/errors';
import type { ObservedInstance } from '../core/status';

export async function observeInstances(ec2: Ec2Port, env: string): Promise<ObservedInstance[]> {
  const out: ObservedInstance[] = [];
  let NextToken: string | undefined;
  try {
    do {
      const page = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:loadfleet:env', Values: [env] }], NextToken, MaxResults: 1000 }));
      for (const r of page.Reservations ?? []) {
        for (const i of r.Instances ?? []) {
          out.push({
            id: i.InstanceId!,
            state: i.State?.Name ?? 'unknown',
            instanceType: i.InstanceType ?? 'unknown',
            launchTime: (i.LaunchTime ?? new Date()).toISOString(),
            spot: i.InstanceLifecycle === 'spot',
            ...(i.StateReason?.Code ? { stateReason: i.StateReason.Code } : {}),
            tags: Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
            privateIp: i.PrivateIpAddress,
            publicIp: i.PublicIpAddress,
          });
        }
      }
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (e) {
    throw new ExternalError(`EC2 DescribeInstances for env ${env} failed: ${(e as Error).message}`);
  }
  return out;
}
