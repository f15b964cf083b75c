/** The regions EC2 lists for the account (`sweep --all-regions`). */
import { DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import type { Ec2Port } from './ec2';
import { awsError } from '../core/errors';

export async function listRegions(ec2: Ec2Port): Promise<string[]> {
  try {
    const r = await ec2.send(new DescribeRegionsCommand({}));
    return (r.Regions ?? []).map((x) => x.RegionName).filter((n): n is string => !!n).sort();
  } catch (e) {
    throw awsError('listing the regions (DescribeRegions)', e);
  }
}
