/** sweep of an env with 200 tagged resources on moto: time, and API calls per resource. */
import { AllocateAddressCommand, CreateKeyPairCommand, CreateSecurityGroupCommand, CreateVolumeCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { startMoto } from '../harness/moto';
import { ec2 } from '../harness/ec2-count';
import { al2023, envTags } from '../harness/ec2-make';
import { countCalls } from '../../scripts/adapters/sweep-ec2';
import { sweepEnv } from '../../scripts/actions/sweep';
import { countByKind } from '../../scripts/core/sweep';

export async function benchSweep(): Promise<void> {
  const moto = await startMoto();
  try {
    const maker = ec2(moto.env);
    const Tags = envTags('bench200');
    const spec = (t: string) => [{ ResourceType: t as never, Tags }];
    await maker.send(new RunInstancesCommand({ ImageId: await al2023(maker), MinCount: 50, MaxCount: 50, InstanceType: 't3.micro', TagSpecifications: spec('instance') }));
    for (let i = 0; i < 50; i++) await maker.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, TagSpecifications: spec('volume') }));
    for (let i = 0; i < 40; i++) await maker.send(new CreateSecurityGroupCommand({ GroupName: `b${i}`, Description: 'b', TagSpecifications: spec('security-group') }));
    for (let i = 0; i < 40; i++) await maker.send(new CreateKeyPairCommand({ KeyName: `b${i}`, TagSpecifications: spec('key-pair') }));
    for (let i = 0; i < 20; i++) await maker.send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: spec('elastic-ip') }));
    const { client, calls } = countCalls(ec2(moto.env));
    const t0 = performance.now();
    const report = await sweepEnv(client, 'bench200');
    const s = (performance.now() - t0) / 1000;
    const n = report.removed.length;
    console.log(`sweep of ${n} tagged resources (${JSON.stringify(countByKind(report.removed))}): ${s.toFixed(1)} s, ${calls()} API calls = ${(calls() / n).toFixed(2)} calls per resource, ${report.rounds} round(s) + a final empty listing`);
    console.log('baseline: one describe + one delete per resource = 2.00 calls per resource; instances are terminated in one batched call');
  } finally {
    await moto.stop();
  }
}
