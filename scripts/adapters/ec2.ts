/** The EC2 API through the AWS SDK (honours AWS_ENDPOINT_URL, AWS_REGION and the usual credential chain). */
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { awsError, ExternalError } from '../core/errors';

export type Ec2Port = Pick<EC2Client, 'send'>;

/**
 * The one place loadfleet makes an EC2 client. Every call's failure leaves this adapter as an
 * ExternalError (exit 1) carrying the service's code and message, or what the network said.
 */
export function ec2Client(region: string): EC2Client {
  const client = new EC2Client({ region });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (e) {
        throw awsError(`EC2 ${String(context.commandName ?? 'call').replace(/Command$/, '')}`, e);
      }
    },
    { step: 'initialize', name: 'loadfleetExternalErrors', priority: 'high' },
  );
  return client;
}

export interface TaggedInstance {
  readonly id: string;
  readonly state: string;
  readonly publicIp?: string;
  readonly privateIp?: string;
  readonly tags: Record<string, string>;
}

/** Every live instance carrying loadfleet:env=<env>, all pages. */
export async function instancesOfEnv(ec2: Ec2Port, env: string, states = ['pending', 'running']): Promise<TaggedInstance[]> {
  const out: TaggedInstance[] = [];
  let NextToken: string | undefined;
  try {
    do {
      const page = await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'tag:loadfleet:env', Values: [env] }, { Name: 'instance-state-name', Values: states }], NextToken, MaxResults: 1000 }),
      );
      for (const r of page.Reservations ?? []) {
        for (const i of r.Instances ?? []) {
          out.push({
            id: i.InstanceId!,
            state: i.State?.Name ?? 'unknown',
            publicIp: i.PublicIpAddress,
            privateIp: i.PrivateIpAddress,
            tags: Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
          });
        }
      }
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (e) {
    throw new ExternalError(`EC2 DescribeInstances failed: ${(e as Error).message}`, { cause: e });
  }
  return out;
}
