/**
 * JMeter's `run` parts that need no host: the plan check, the options loadfleet owns, the client's
 * command line, the milestone lines the driver waits for (JMeter.java / DistributedRunner.java println
 * texts, quoted in scripts/run/jmeter.ts), the tick's status parse and the gzip JTL merge. Not proven
 * against a real JMeter: it cannot run on this machine.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../scripts/core/errors';
import { jmeterAgents, jmeterRun, mergeJtlFile, parseStatus } from '../../scripts/drivers/jmeter';
import { driverModule } from '../../scripts/drivers';
import { jmeterClientArgs } from '../../scripts/run/commands';
import { checkJmeterPassthrough, checkJmx, jmeterClientProps, jmeterStarted, jmeterTestEnded, jmeterUdpPort, unreadWarning } from '../../scripts/run/jmeter';
import { jmeterProps, resolveLoad } from '../../scripts/run/load';
import { finish } from '../../scripts/run/merge';

const FIXTURES = path.join(__dirname, 'fixtures', 'jmeter');
const PLAN = fs.readFileSync(path.join(FIXTURES, 'plan.jmx'), 'utf8');

const usage = (f: () => unknown): UsageError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
};

describe('the .jmx check', () => {
  afterEach(() => vi.restoreAllMocks());

  it('accepts a plan with a thread group that reads the load properties', () => {
    expect(checkJmx('plan.jmx', PLAN)).toEqual({ threadGroups: ['ThreadGroup'], unread: [], readsSchedule: false });
  });

  it('warns (stderr) when the plan reads none of the load properties, saying how to read them', async () => {
    const fixed = PLAN.replace('${__P(threads,1)}', '10').replace('${__P(rampup,1)}', '5').replace('${__P(duration,60)}', '300');
    expect(checkJmx('plan.jmx', fixed).unread).toEqual(['threads', 'rampup', 'duration']);
    const w = unreadWarning('plan.jmx', ['threads', 'duration']);
    expect(w).toContain('${__P(threads)}');
    expect(w).toContain('Number of Threads (users) = ${__P(threads,1)}');
    expect(w).toContain('Duration (seconds), with "Specify Thread lifetime" ticked = ${__P(duration,60)}');
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await jmeterRun.validate('plan.jmx', fixed);
    expect(String(err.mock.calls[0]?.[0])).toMatch(/^warning: plan\.jmx does not read/);
  });

  it('accepts plugin thread groups and the ${__property(…)} spelling', () => {
    const utg = PLAN.replace(/<ThreadGroup /, '<kg.apc.jmeter.threads.UltimateThreadGroup ').replace('</ThreadGroup>', '</kg.apc.jmeter.threads.UltimateThreadGroup>').replace('${__P(threads,1)}', '${__property(threads,,1)}') + '<!-- ${__P(threads_schedule)} -->';
    expect(checkJmx('p.jmx', utg)).toMatchObject({ threadGroups: ['kg.apc.jmeter.threads.UltimateThreadGroup'], readsSchedule: true });
    expect(checkJmx('p.jmx', utg).unread).not.toContain('threads');
  });

  it('fails when the file is not XML, with the parser\'s words and position', () => {
    const e = usage(() => checkJmx('plan.jmx', PLAN.replace('</ThreadGroup>', '</ThreadGrup>')));
    expect(e.message).toMatch(/plan\.jmx\) is not a JMeter plan: it is not well-formed XML \(line \d+, column \d+: .*ThreadGroup/);
    expect(usage(() => checkJmx('x.jmx', 'print("hello")')).message).toMatch(/not well-formed XML/);
  });

  it('fails when the root is not jmeterTestPlan', () => {
    expect(usage(() => checkJmx('x.jmx', '<?xml version="1.0"?><project><ThreadGroup/></project>')).message).toMatch(/root element is <project>, not <jmeterTestPlan>/);
  });

  it('fails when there is no enabled load thread group', () => {
    const none = PLAN.replace(/<ThreadGroup [^>]*>[\s\S]*<\/ThreadGroup>/, '<ConstantTimer testname="t"/>');
    expect(usage(() => checkJmx('x.jmx', none)).message).toMatch(/has no enabled Thread Group/);
    const disabled = PLAN.replace('testname="Thread Group"', 'testname="Thread Group" enabled="false"');
    expect(usage(() => checkJmx('x.jmx', disabled)).message).toMatch(/has no enabled Thread Group/);
    const setupOnly = PLAN.replace(/<ThreadGroup /, '<SetupThreadGroup ').replace('</ThreadGroup>', '</SetupThreadGroup>');
    expect(usage(() => checkJmx('x.jmx', setupOnly)).message).toMatch(/has no enabled Thread Group/);
  });
});

describe('options after --', () => {
  it.each([
    [['-n'], /-n cannot be passed after --: run always uses non-GUI/],
    [['-t', 'other.jmx'], /-t cannot be passed/],
    [['-R', '10.0.0.9'], /-R cannot be passed/],
    [['-r'], /-r cannot be passed/],
    [['-X'], /-X cannot be passed/],
    [['-l', 'mine.jtl'], /-l cannot be passed/],
    [['-e'], /-e cannot be passed/],
    [['-o', 'report'], /-o cannot be passed/],
    [['-q', 'extra.properties'], /-q cannot be passed.*use -J\/-G/],
    [['--remotestart=10.0.0.9'], /--remotestart=10\.0\.0\.9 cannot be passed/],
    [['--logfile', 'x.jtl'], /--logfile cannot be passed/],
    [['-a', 'secret'], /process list/],
    [['-Jjmeter.save.saveservice.output_format=xml'], /reads the JTL .* \(jmeter\.save\.saveservice\.output_format\)/],
    [['-J', 'summariser.name=none'], /summariser\.name/],
    // The sample sender: any mode but the pinned StrippedBatch (Statistical averages the JTL rows), on the client, servers or JVM.
    [['-Jmode=Statistical'], /-Jmode=Statistical cannot be passed after --: run pins mode=StrippedBatch .*Statistical/],
    [['-Gmode=Statistical'], /-Gmode=Statistical cannot be passed.*mode=StrippedBatch/],
    [['-Dmode=Standard'], /-Dmode=Standard cannot be passed.*mode=StrippedBatch/],
    [['-J', 'mode=Batch'], /-J cannot be passed.*mode=StrippedBatch/],
    [['--jmeterproperty=mode=Statistical'], /mode=StrippedBatch/],
    [['--globalproperty', 'mode=Hold'], /mode=StrippedBatch/],
    [['-Jsample_sender_client_configured=false'], /mode=StrippedBatch/],
    // The load properties: they would replace --users/--duration/--stages without a word.
    [['-Gthreads=100'], /-Gthreads=100 cannot be passed after --: run sets the load property threads .*--users/],
    [['-Jrampup=5'], /load property rampup/],
    [['-G', 'duration=3600'], /load property duration/],
    [['--globalproperty=threads_schedule=spawn(1,0s,0s,10s,0s)'], /load property threads_schedule.*--stages/],
    // Every pinned client property, the new ones too.
    [['-Jjmeter.save.saveservice.response_message=false'], /\(jmeter\.save\.saveservice\.response_message\)/],
    [['-Jjmeter.save.saveservice.label=false'], /\(jmeter\.save\.saveservice\.label\)/],
    [['-Gjmeter.save.saveservice.output_format=xml'], /\(jmeter\.save\.saveservice\.output_format\)/],
    [['-Jsummariser.interval=60'], /\(summariser\.interval\)/],
  ])('refuses %j naming the option', (args, re) => {
    expect(usage(() => checkJmeterPassthrough(args)).message).toMatch(re);
  });

  it('passes properties, log levels and proxy options through', () => {
    expect(() => checkJmeterPassthrough(['-Dthreads=4', '-Gthreads_per_loop=2', '-Jmodel=x', '-Gtarget_path=/api'])).not.toThrow();
    expect(() => checkJmeterPassthrough(['-Jhttpclient4.retrycount=1', '-Gtarget_path=/api', '-Djava.net.preferIPv4Stack=true', '-LDEBUG', '-H', 'proxy', '-P', '3128', '-Jjmeter.save.saveservice.url=true'])).not.toThrow();
  });
});

describe('the client command line', () => {
  it('runs the plan on every agent with the load as -G, the client pins, then the user options last', () => {
    const plan = resolveLoad({ users: 10, durationS: 60 });
    const argv = jmeterClientArgs({
      version: '5.6.3', plan: '/var/lib/loadfleet/jmeter/runs/r1/plan.jmx', controllerIp: '10.0.1.10', servers: ['10.0.1.21', '10.0.1.22'],
      props: jmeterProps(plan, 2), runDir: '/var/lib/loadfleet/jmeter/runs/r1', passthrough: [...jmeterClientProps, '-Gtarget_path=/api'],
    });
    expect(argv.slice(0, 3)).toEqual(['/opt/loadfleet/jmeter/apache-jmeter-5.6.3/bin/jmeter', '-n', '-t']);
    expect(argv).toContain('-Gthreads=5');
    expect(argv.join(' ')).toContain('-R 10.0.1.21:1099,10.0.1.22:1099');
    expect(argv.join(' ')).toContain('-l /var/lib/loadfleet/jmeter/runs/r1/res.jtl -e -o /var/lib/loadfleet/jmeter/runs/r1/dashboard');
    expect(argv.indexOf('-Jsummariser.interval=5')).toBeLessThan(argv.indexOf('-Gtarget_path=/api'));
    // Pinned whatever the installed properties say: every sample back, and the columns the merge reads.
    expect(argv).toContain('-Jmode=StrippedBatch');
    // The live results (issue 16.9): the file the live tick reads is flushed on every sample (ResultCollector, rel/v5.6.3).
    expect(argv).toEqual(expect.arrayContaining(['-Jjmeter.save.saveservice.autoflush=true', '-Jjmeter.save.saveservice.output_format=csv', '-Jjmeter.save.saveservice.timestamp_format=ms']));
    expect(argv).toContain('-Jjmeter.save.saveservice.response_message=true');
    for (const col of ['time', 'label', 'successful', 'thread_name']) expect(argv).toContain(`-Jjmeter.save.saveservice.${col}=true`);
    expect(argv.at(-1)).toBe('-Gtarget_path=/api');
  });

  it('names each agent by its -R entry, the prefix of its threads', () => {
    expect(jmeterAgents([{ name: 'agent-1', privateIp: '10.0.1.21' }, { name: 'agent-2', privateIp: '10.0.1.22' }])).toEqual([
      { name: 'agent-1', remote: '10.0.1.21:1099' },
      { name: 'agent-2', remote: '10.0.1.22:1099' },
    ]);
  });

  it('is the registered driver for jmeter, which needs a controller', () => {
    expect(driverModule('jmeter')).toBe(jmeterRun);
    expect(jmeterRun.needsController).toBe(true);
  });
});

describe('the client\'s milestones', () => {
  // The println texts of JMeter.java (runNonGui, ListenToTest.endTest, waitForSignals) and DistributedRunner.start.
  const started = [
    'Creating summariser <summary>',
    'Created the tree successfully using /var/lib/loadfleet/jmeter/runs/r1/plan.jmx',
    'Configuring remote engine: 10.0.1.21:1099',
    'Configuring remote engine: 10.0.1.22:1099',
    'Starting distributed test with remote engines:[10.0.1.21:1099, 10.0.1.22:1099] @ Wed Nov 25 17:00:00 UTC 2026 (1764090000000)',
    'Remote engines have been started:{10.0.1.21:1099=ClientJMeterEngine [hostAndPort=10.0.1.21:1099], 10.0.1.22:1099=ClientJMeterEngine [hostAndPort=10.0.1.22:1099]}',
    'Waiting for possible Shutdown/StopTestNow/HeapDump/ThreadDump message on port 4446',
  ].join('\n');

  it('sees the servers started, the epoch JMeter printed and the UDP port it listens on', () => {
    expect(jmeterStarted(started)).toEqual({ started: true, atMs: 1764090000000, notStarted: null, failure: null });
    expect(jmeterUdpPort(started)).toBe(4446);
    expect(jmeterUdpPort('')).toBe(4445);
    expect(jmeterTestEnded(started)).toBe(false);
    expect(jmeterTestEnded(`${started}\nTidying up remote @ Wed Nov 25 17:01:00 UTC 2026 (1764090060000)`)).toBe(true);
  });

  it('sees the servers that did not start and the client\'s fatal error', () => {
    const bad = `${started.split('\nRemote')[0]}\nRemote engines have been started:{}\nThe following remote engines have not started:[10.0.1.22:1099]`;
    expect(jmeterStarted(bad).notStarted).toBe('[10.0.1.22:1099]');
    expect(jmeterStarted('Error in NonGUIDriver java.lang.RuntimeException: Following remote engines could not be configured:[10.0.1.21:1099]').failure).toMatch(/^Error in NonGUIDriver/);
  });

  it('parses a tick\'s status output', () => {
    const s = parseStatus(['state alive', 'out summary +     10 in 00:00:05 =    2.0/s Avg:    10 Min:     9 Max:    11 Err:     0 (0.00%) Active: 2 Started: 2 Finished: 0', 'window 42 12 30 41', 'seen 10.0.1.21:1099 40', 'seen 10.0.1.22:1099 0'].join('\n'));
    expect(s.state).toBe('alive');
    expect(s.out).toMatch(/^summary \+/);
    expect(s.window).toEqual({ n: 42, p50: 12, p95: 30, p99: 41 });
    expect([...s.seen]).toEqual([['10.0.1.21:1099', 40], ['10.0.1.22:1099', 0]]);
    expect(parseStatus('state gone\n')).toMatchObject({ state: 'gone', window: { n: 0 } });
  });
});

describe('merging the pulled JTL', () => {
  it('streams the gzipped JTL into the merge', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-jtl-'));
    try {
      const file = path.join(dir, 'res.jtl.gz');
      fs.writeFileSync(file, gzipSync(fs.readFileSync(path.join(FIXTURES, 'res.jtl'))));
      const jm = await mergeJtlFile(file, jmeterAgents([{ name: 'agent-1', privateIp: '10.0.1.21' }, { name: 'agent-2', privateIp: '10.0.1.22' }]), 1);
      expect(finish(jm.merger, jm.spanS()).total).toMatchObject({ requests: 5, failures: 2 });
      expect(jm.firstSampleMs.get('agent-2')).toBe(1764090000004);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
