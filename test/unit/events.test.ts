import { describe, expect, it } from 'vitest';
import { foldEvent, NO_PROGRESS, summarizeEvents } from '../../scripts/core/terraform-events';
import { describeExpiry, expiryFor, fromTerraformOutputs } from '../../scripts/core/env-record';
import { deadmanCheckScript, deadmanUserData, expiryFrom, FALLBACK_HOURS } from '../../stacks/deadman';
import { parallelismFor } from '../../scripts/core/terraform-events';
import { exitCodeOf } from '../../scripts/cli';
import { ConfigError } from '../../stacks/config';
import { awsCode, awsError, EXIT, ExternalError, ToolMissingError, UsageError, WrappedError } from '../../scripts/core/errors';
import { planLocal } from '../../scripts/core/local-plan';
import { bakeTags, imageTags } from '../../scripts/core/bake';
import { expiredImages } from '../../scripts/core/sweep';
import { validateFleetConfig } from '../../stacks/config';
import { configInput } from '../harness/fixtures';

const ev = (o: object) => JSON.stringify(o);

describe('terraform -json events', () => {
  it('counts planned changes and completed applies, ignoring data-source reads', () => {
    const p = summarizeEvents([
      'not json',
      ev({ type: 'planned_change', change: { action: 'create', resource: { addr: 'aws_vpc.vpc' } } }),
      ev({ type: 'planned_change', change: { action: 'create', resource: { addr: 'aws_instance.agents[0]' } } }),
      ev({ type: 'planned_change', change: { action: 'read', resource: { addr: 'data.aws_ami.al2023' } } }),
      ev({ type: 'apply_complete', hook: { action: 'read', resource: { addr: 'data.aws_ami.al2023' } } }),
      ev({ type: 'apply_complete', hook: { action: 'create', resource: { addr: 'aws_vpc.vpc' } } }),
      ev({ type: 'apply_start', hook: { action: 'create', resource: { addr: 'aws_instance.agents[0]' } } }),
    ]);
    expect(p).toEqual({ planned: 2, done: 1, last: 'aws_instance.agents[0]', errors: [] });
  });

  it('folds one line at a time to the same result, and keeps the state object when a line changes nothing', () => {
    const lines = [
      ev({ type: 'planned_change', change: { action: 'create', resource: { addr: 'aws_vpc.vpc' } } }),
      'not json',
      ev({ type: 'version', terraform: '1.11.4' }),
      ev({ type: 'apply_complete', hook: { action: 'create', resource: { addr: 'aws_vpc.vpc' } } }),
    ];
    let state = NO_PROGRESS;
    const seen = [];
    for (const l of lines) {
      const next = foldEvent(state, l);
      seen.push(next === state ? 'same' : 'new');
      state = next;
    }
    expect(seen).toEqual(['new', 'same', 'same', 'new']);
    expect(state).toEqual(summarizeEvents(lines));
    expect(state).toEqual({ planned: 1, done: 1, last: 'aws_vpc.vpc', errors: [] });
  });

  it('collects error diagnostics with their address', () => {
    const p = summarizeEvents([ev({ type: 'diagnostic', diagnostic: { severity: 'error', summary: 'creating EC2 Instance', detail: 'InvalidAMIID.NotFound', address: 'aws_instance.controller' } })]);
    expect(p.errors).toEqual(['aws_instance.controller: creating EC2 Instance — InvalidAMIID.NotFound']);
  });
});

describe('outputs', () => {
  it('turns terraform outputs into the fleet model', () => {
    const o = fromTerraformOutputs(
      {
        hosts: { value: [{ role: 'agent', group: 'agent', name: 'agent-1', id: 'i-1', public_ip: '54.0.0.1', private_ip: '10.42.0.5' }] },
        master: { value: { address: '10.42.0.4', port: 5557 } },
        env: { value: { name: 'demo', engine: 'locust', expires_at: '2026-11-24T04:00:00Z', region: 'us-east-1' } },
      },
      'ec2-user',
    );
    expect(o).toEqual({
      env: 'demo', target: 'aws', engine: 'locust', expiresAt: '2026-11-24T04:00:00Z', sshUser: 'ec2-user',
      hosts: [{ role: 'agent', group: 'agent', name: 'agent-1', id: 'i-1', publicIp: '54.0.0.1', privateIp: '10.42.0.5' }],
      master: { address: '10.42.0.4', port: 5557 },
    });
  });

  it('fails with the reason when outputs are not loadfleet\'s', () => {
    expect(() => fromTerraformOutputs({ hosts: { value: 'x' } }, 'u')).toThrow(/hosts\.value/);
  });
});

describe('expiry', () => {
  it('is now + ttl in ISO-8601 UTC to the second', () => {
    expect(expiryFrom(new Date('2026-11-23T20:00:00.123Z'), 4)).toBe('2026-11-24T00:00:00Z');
    expect(expiryFrom(new Date('2026-11-23T20:00:00Z'), 0.25)).toBe('2026-11-23T20:15:00Z');
  });

  it('is kept across ups unless ttlHours changes or the env was destroyed', () => {
    const now = new Date('2026-11-23T21:00:00Z');
    const record = { name: 'demo', target: 'aws', configPath: '/x', region: 'us-east-1', engine: 'locust', ttlHours: 4, expiresAt: '2026-11-24T00:00:00Z', status: 'up', updatedAt: '' } as const;
    expect(expiryFor(record, 4, now)).toBe('2026-11-24T00:00:00Z');
    expect(expiryFor(record, 2, now)).toBe('2026-11-23T23:00:00Z');
    expect(expiryFor({ ...record, status: 'down' }, 4, now)).toBe('2026-11-24T01:00:00Z');
    expect(expiryFor(undefined, 1, now)).toBe('2026-11-23T22:00:00Z');
  });

  it('is never reused once past: after the switch fired, a new up gets a fresh expiry', () => {
    // GIVEN a record that still says up, whose expiry passed (the hosts shut themselves down)
    const record = { name: 'demo', target: 'aws', configPath: '/x', region: 'us-east-1', engine: 'locust', ttlHours: 4, expiresAt: '2026-11-24T00:00:00Z', status: 'up', updatedAt: '' } as const;
    const later = new Date('2026-11-24T09:30:00Z');
    // THEN the next up's expiry is ttlHours from now, never the past one
    expect(expiryFor(record, 4, later)).toBe('2026-11-24T13:30:00Z');
    expect(expiryFor({ ...record, status: 'failed' }, 4, new Date('2026-11-23T21:00:00Z'))).toBe('2026-11-24T01:00:00Z');
  });

  it('describes time left and time since expiry', () => {
    expect(describeExpiry('2026-11-24T00:00:00Z', new Date('2026-11-23T21:55:00Z'))).toBe('2h 5m left');
    expect(describeExpiry('2026-11-24T00:00:00Z', new Date('2026-11-24T00:10:00Z'))).toBe('expired 0h 10m ago');
  });

  it('writes a check script that reads the tag with an IMDSv2 token, keeps the last value, and falls back to the longest TTL', () => {
    const script = deadmanCheckScript('demo');
    expect(script).toContain('curl -sf -m 5 -X PUT "$imds/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 60"');
    expect(script).toContain('"$imds/latest/meta-data/tags/instance/loadfleet:expires-at"');
    expect(script).toContain('printf \'%s\\n\' "$expires" > "$dir/expires-at"');
    expect(script).toContain(`$((now + ${FALLBACK_HOURS * 3600}))`);
    expect(script).toContain('shutdown -h now "loadfleet env demo expired"');
    expect(deadmanUserData('demo')).toContain(`<<'CHECK'\n${script}CHECK\n`);
  });

  it('refuses an env name that is not safe inside the script', () => {
    expect(() => deadmanCheckScript('demo"; rm -rf /')).toThrow(/not safe in a script/);
  });
});

describe('apply width', () => {
  it('runs every instance of a wide fleet at once, within bounds', () => {
    expect(parallelismFor(1)).toBe(31);
    expect(parallelismFor(56)).toBe(86);
    expect(parallelismFor(1000)).toBe(200);
  });
});

describe('exit codes', () => {
  it('maps usage, config, external, missing tools and bugs to 2, 2, 1, 1, 70', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(2);
    expect(exitCodeOf(new ConfigError('f', []))).toBe(2);
    expect(exitCodeOf(new ExternalError('x'))).toBe(1);
    expect(exitCodeOf(new ToolMissingError('terraform', 'install it'))).toBe(1);
    expect(exitCodeOf(new TypeError('x'))).toBe(70);
  });

  it('keeps the cause\'s kind when an error is wrapped: a bug stays 70, never 1', () => {
    expect(exitCodeOf(new WrappedError('bake failed', new TypeError('x is undefined')))).toBe(70);
    expect(exitCodeOf(new WrappedError('bake failed', new ExternalError('AWS said no')))).toBe(1);
    expect(exitCodeOf(new WrappedError('bake failed', new UsageError('bad flag')))).toBe(2);
    expect(exitCodeOf(new WrappedError('bake failed', new Error('interrupted by SIGINT'), EXIT.external))).toBe(1);
  });

  it('turns AWS SDK and network failures into external errors with the service\'s words, and leaves bugs alone', () => {
    const denied = Object.assign(new Error('You are not authorized to perform this operation.'), { name: 'UnauthorizedOperation', $fault: 'client', $metadata: { httpStatusCode: 403 } });
    const e1 = awsError('EC2 DescribeInstances', denied);
    expect(e1).toBeInstanceOf(ExternalError);
    expect(e1.message).toBe('EC2 DescribeInstances failed: UnauthorizedOperation: You are not authorized to perform this operation.');
    expect(awsCode(e1)).toBe('UnauthorizedOperation');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(exitCodeOf(awsError('EC2 DescribeTags', refused))).toBe(1);
    expect(awsError('EC2 DescribeTags', refused).message).toMatch(/ECONNREFUSED 127\.0\.0\.1:9.*is the endpoint reachable/);
    expect(exitCodeOf(awsError('EC2 DescribeTags', new TypeError('cannot read properties of undefined')))).toBe(70);
  });

  it('reports missing credentials and a missing region as external errors (1) that say what to set', () => {
    const noCreds = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError', tryNextLink: false });
    const e1 = awsError('EC2 DescribeInstances', noCreds);
    expect(exitCodeOf(e1)).toBe(1);
    expect(e1.message).toMatch(/Could not load credentials from any providers.*AWS_PROFILE/);
    const provider = Object.assign(new Error('SSO session expired'), { name: 'ProviderError' });
    expect(exitCodeOf(awsError('EC2 DescribeInstances', provider))).toBe(1);
    const linked = Object.assign(new Error('no profile'), { tryNextLink: true });
    expect(exitCodeOf(awsError('EC2 DescribeInstances', linked))).toBe(1);
    const region = awsError('EC2 DescribeInstances', new Error('Region is missing'));
    expect(exitCodeOf(region)).toBe(1);
    expect(region.message).toMatch(/Region is missing.*AWS_REGION/);
    // A bug whose message happens to mention credentials stays a bug.
    expect(exitCodeOf(awsError('EC2 DescribeInstances', new TypeError('credentials is undefined')))).toBe(70);
  });

  it('reports a local subnet too small for the fleet as a usage error (2)', () => {
    const err = (() => {
      try {
        planLocal(validateFleetConfig(configInput({ agents: { count: 300 } })));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(exitCodeOf(err)).toBe(2);
  });
});

describe('config for the image lifetime and metadata tags', () => {
  it('accepts ami.ttlDays and refuses less than a day', () => {
    expect(validateFleetConfig(configInput({ ami: { ttlDays: 30 } })).ami.ttlDays).toBe(30);
    expect(validateFleetConfig(configInput({})).ami.ttlDays).toBeUndefined();
    expect(() => validateFleetConfig(configInput({ ami: { ttlDays: 0 } }))).toThrow(/ami\.ttlDays \(0\) must be at least 1/);
  });

  it('fails on a tag key that instance metadata tags refuse (a slash or a space)', () => {
    expect(() => validateFleetConfig(configInput({ tags: { 'team/name': 'perf' } }))).toThrow(/tags\.team\/name.*no "\/" or spaces/);
    expect(validateFleetConfig(configInput({ tags: { 'cost-center:id': 'x' } })).tags).toEqual({ 'cost-center:id': 'x' });
  });
});

describe('image tags', () => {
  it('never give a baked image the fleet\'s expiry; only ami.ttlDays gives it a lifetime of its own', () => {
    expect(imageTags('demo', 'agent', 'lf-demo-agent-1').map((t) => t.Key)).toEqual(['loadfleet:env', 'loadfleet:role', 'loadfleet:build', 'Name']);
    expect(imageTags('demo', 'agent', 'lf-demo-agent-1', '2027-01-01T00:00:00Z')).toContainEqual({ Key: 'loadfleet:image-expires-at', Value: '2027-01-01T00:00:00Z' });
    expect(bakeTags('demo', 'agent', 'b', '2026-01-01T00:00:00Z')).toContainEqual({ Key: 'loadfleet:expires-at', Value: '2026-01-01T00:00:00Z' }); // temporary resources
  });

  it('finds images past their own lifetime and keeps those without one', () => {
    const now = new Date('2026-11-25T00:00:00Z');
    const images = [{ id: 'a' }, { id: 'b', imageExpiresAt: '2026-11-24T00:00:00Z' }, { id: 'c', imageExpiresAt: '2026-12-24T00:00:00Z' }, { id: 'd', imageExpiresAt: 'soon' }];
    expect(expiredImages(images, now).map((i) => i.id)).toEqual(['b']);
  });
});
