/**
 * nGrinder's run, the pure parts: script checks, passthrough, the PerfTest body, the API sh, and parsers of
 * the controller's answers. The fixtures follow nGrinder 3.5's sources (naver/ngrinder: PerfTestApiController,
 * model/PerfTest.java, model/Status.java, AgentManagerApiController, net/grinder/SingleConsole
 * updateStatistics() and writeIntervalCsvData()); they are NOT captured from a running controller, which
 * cannot run here.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../scripts/core/errors';
import { ngrinderRun } from '../../scripts/drivers/ngrinder';
import type { Prepared } from '../../scripts/drivers/types';
import { ngrinderLoad, resolveLoad } from '../../scripts/run/load';
import {
  apiCallScript, apiJson, checkNGrinderScript, createFolderCall, isEnded, isStoppable, NGRINDER_STATUSES, ngrinderStats, parseAgents, parseApiOutput, parseAvailableAgents, parsePassthrough,
  parseReportCsv, parseSample, parseStatus, perfTestBody, refuseUnmeasuredThresholds, scriptFileName, statusCategory, targetHostOf, testDirScript,
} from '../../scripts/run/ngrinder-api';
import { reportHtml } from '../../scripts/run/report';
import { buildSummary, statsCsv, summaryText } from '../../scripts/run/summary';
import { evaluate, parseThreshold } from '../../scripts/run/thresholds';

const GROOVY = `import static net.grinder.script.Grinder.grinder
import net.grinder.scriptengine.groovy.junit.GrinderRunner
import org.junit.Test
import org.junit.runner.RunWith

@RunWith(GrinderRunner)
class TestRunner {
  @Test
  public void test() { }
}
`;
const JYTHON = `from net.grinder.script import Test
class TestRunner:
    def __call__(self):
        pass
`;
const PASSWORD = 'Abcdefghij0123456789XYZ';

describe('checkNGrinderScript', () => {
  it('accepts a GrinderRunner Groovy class and a Jython TestRunner', () => {
    expect(checkNGrinderScript('t.groovy', GROOVY)).toBe('groovy');
    expect(checkNGrinderScript('t.py', JYTHON)).toBe('jython');
    expect(checkNGrinderScript('T.Groovy', GROOVY.replace('@RunWith(GrinderRunner)', '@RunWith(GrinderRunner.class)'))).toBe('groovy');
  });
  it.each([
    ['t.js', GROOVY, 'a Groovy file (.groovy'],
    ['t.groovy', GROOVY.replace('@RunWith(GrinderRunner)', ''), 'no @RunWith(GrinderRunner) class'],
    ['t.groovy', GROOVY.replace('@Test', ''), 'has no @Test method'],
    ['t.py', 'print(1)\n', 'defines no "class TestRunner"'],
  ])('fails when the script is %s with the wrong content', (file, text, msg) => {
    expect(() => checkNGrinderScript(file, text)).toThrow(UsageError);
    expect(() => checkNGrinderScript(file, text)).toThrow(msg);
  });
  it('names the uploaded file after the run, with the script type as extension', () => {
    expect(scriptFileName('20260101-120000-ab12', 'groovy')).toBe('loadfleet-20260101-120000-ab12.groovy');
    expect(scriptFileName('r/1 x', 'jython')).toBe('loadfleet-r-1-x.py');
  });
});

describe('statuses (model/Status.java, StatusCategory.java at ngrinder-3.5.9-p1-20240613)', () => {
  it('has every status of 3.5.9-p1 in its order, with its category', () => {
    expect(NGRINDER_STATUSES).toEqual([
      'SAVED', 'READY', 'CHECKOUT_SCRIPT', 'PREPARE_DISTRIBUTION',
      'START_CONSOLE', 'START_CONSOLE_FINISHED', 'START_AGENTS', 'START_AGENTS_FINISHED', 'DISTRIBUTE_FILES', 'DISTRIBUTE_FILES_FINISHED',
      'START_TESTING', 'TESTING', 'TESTING_FINISHED', 'ABNORMAL_TESTING',
      'FINISHED', 'FINISHED_WITH_WARNING', 'STOP_BY_ERROR', 'STOP_ON_ERROR', 'CANCELED', 'UNKNOWN',
    ]);
    expect(statusCategory('PREPARE_DISTRIBUTION')).toBe('PROGRESSING');
    expect(statusCategory('ABNORMAL_TESTING')).toBe('ABNORMAL_TESTING');
    expect(statusCategory('FINISHED_WITH_WARNING')).toBe('WARNED');
    expect(statusCategory('STOP_BY_ERROR')).toBe('ERROR');
    expect(statusCategory('CANCELED')).toBe('STOP');
  });
  it('ends and stops as StatusCategory says (ABNORMAL_TESTING is not stoppable)', () => {
    expect(NGRINDER_STATUSES.filter(isEnded)).toEqual(['FINISHED', 'FINISHED_WITH_WARNING', 'STOP_BY_ERROR', 'STOP_ON_ERROR', 'CANCELED', 'UNKNOWN']);
    expect(NGRINDER_STATUSES.filter(isStoppable)).toEqual([
      'CHECKOUT_SCRIPT', 'PREPARE_DISTRIBUTION',
      'START_CONSOLE', 'START_CONSOLE_FINISHED', 'START_AGENTS', 'START_AGENTS_FINISHED', 'DISTRIBUTE_FILES', 'DISTRIBUTE_FILES_FINISHED',
      'START_TESTING', 'TESTING', 'TESTING_FINISHED',
    ]);
    expect(statusCategory('READY')).toBe('PREPARE');
  });
  it('reads the statuses 3.5.9-p1 sets on every test', () => {
    for (const s of ['CHECKOUT_SCRIPT', 'PREPARE_DISTRIBUTION', 'FINISHED_WITH_WARNING']) expect(parseStatus(s)).toBe(s);
  });
  it('reads the enum as its name, or an object carrying the name', () => {
    expect(parseStatus('TESTING')).toBe('TESTING');
    expect(parseStatus({ name: 'FINISHED', category: 'FINISHED' })).toBe('FINISHED');
  });
  it('fails when the status is unknown', () => {
    expect(() => parseStatus('RUNNING')).toThrow('unknown nGrinder test status "RUNNING"');
  });
});

describe('parsePassthrough', () => {
  it('types the fields of PerfTest it accepts', () => {
    expect(parsePassthrough(['processes=2', 'samplingInterval=3', 'param=a=b', 'ignoreTooManyError=true', 'rampUpType=PROCESS', 'ignoreSampleCount=0'])).toEqual({
      processes: 2, samplingInterval: 3, param: 'a=b', ignoreTooManyError: true, rampUpType: 'PROCESS', ignoreSampleCount: 0,
    });
  });
  it.each([
    ['duration=60000', 'nGrinder option duration (duration=60000) is set by loadfleet: use --duration'],
    ['agentCount=1', 'agentCount (agentCount=1) is set by loadfleet'],
    ['threads=4', 'set processes=N instead'],
    ['scriptName=x.groovy', 'use --script'],
    ['status=SAVED', 'loadfleet starts the test'],
    ['foo=1', 'nGrinder option foo (foo=1) is not a field loadfleet passes to nGrinder\'s test; accepted: processes, samplingInterval'],
    ['--processes', 'nGrinder option (--processes) must be key=value'],
    ['processes=0', 'processes (0) must be a whole number ≥ 1'],
    ['processes=two', 'processes (two) must be a whole number'],
    ['safeDistribution=yes', 'safeDistribution (yes) must be true or false'],
    ['rampUpType=LINEAR', 'rampUpType (LINEAR) must be PROCESS or THREAD'],
  ])('fails when given %s, naming the field', (arg, msg) => {
    expect(() => parsePassthrough([arg])).toThrow(UsageError);
    expect(() => parsePassthrough([arg])).toThrow(msg);
  });
  it('fails when a field is given twice', () => {
    expect(() => parsePassthrough(['processes=1', 'processes=2'])).toThrow('nGrinder option processes is given twice');
  });
});

describe('perfTestBody (POST /perftest/api, PerfTestApiController.create + validate)', () => {
  const load = ngrinderLoad(resolveLoad({ users: 10, rate: 2, durationS: 30 }), 3);

  it('runs every agent by duration, with vuserPerAgent = processes × threads, READY to start', () => {
    const b = perfTestBody({ runId: 'r1', scriptName: 'loadfleet/x.groovy', load, hostUrl: 'http://10.0.2.5:8080' });
    expect(b).toMatchObject({
      testName: 'loadfleet r1', status: 'READY', scriptName: 'loadfleet/x.groovy', agentCount: 3, threshold: 'D', duration: 30_000,
      processes: 1, threads: 4, vuserPerAgent: 4, targetHosts: '10.0.2.5', param: 'http://10.0.2.5:8080', samplingInterval: 1,
      useRampUp: true, rampUpType: 'THREAD', rampUpStep: 1, rampUpIncrementInterval: 1000,
    });
    expect(b.vuserPerAgent).toBe((b.processes as number) * (b.threads as number));
    expect(b).not.toHaveProperty('scriptRevision');
  });
  it('splits users into processes and rounds vuserPerAgent up to a multiple', () => {
    const b = perfTestBody({ runId: 'r1', scriptName: 's', load, hostUrl: 'http://t:80', overrides: { processes: 3 } });
    expect([b.processes, b.threads, b.vuserPerAgent]).toEqual([3, 2, 6]);
  });
  it('lets documented overrides replace what loadfleet derived', () => {
    const b = perfTestBody({ runId: 'r1', scriptName: 's', load, hostUrl: 'http://t:80', overrides: { targetHosts: 'app:10.0.2.5', param: 'x', useRampUp: false, samplingInterval: 2 } });
    expect(b).toMatchObject({ targetHosts: 'app:10.0.2.5', param: 'x', useRampUp: false, samplingInterval: 2 });
  });
  it('takes the host of the target URL for targetHosts', () => {
    expect(['http://10.0.0.5:8080/a', 'https://app.example.com', 'http://[fd00::5]:80'].map(targetHostOf)).toEqual(['10.0.0.5', 'app.example.com', 'fd00::5']);
  });
});

describe('apiCallScript', () => {
  it('hands the credentials to curl on its stdin (-K -), never as an argument', () => {
    const sh = apiCallScript(PASSWORD, 'http://127.0.0.1:80', { method: 'GET', path: '/perftest/api/7/sample' });
    const curl = sh.split('\n').find((l) => l.includes('curl'))!;
    expect(curl).toContain(`printf 'user = "admin:%s"\\n' "$pw" | curl`);
    expect(curl).toContain('-K -');
    expect(curl).not.toContain(PASSWORD);
    expect(curl).not.toMatch(/ -u | --user /);
    expect(sh).toContain("'http://127.0.0.1:80/perftest/api/7/sample'");
  });
  it('sends a JSON body from a file (base64 in the script, nothing on the command line)', () => {
    const sh = apiCallScript(PASSWORD, 'http://127.0.0.1:80', { method: 'POST', path: '/perftest/api', json: { testName: "it's" } });
    const b64 = /printf %s '([A-Za-z0-9+/=]+)' \| base64 -d > "\$t\/body"/.exec(sh)![1]!;
    expect(JSON.parse(Buffer.from(b64, 'base64').toString())).toEqual({ testName: "it's" });
    expect(sh).toContain(`--data-binary @"$t/body"`);
  });
  it('uploads a script as multipart uploadFile with its name (FileEntryApiController.uploadForAPI)', () => {
    const sh = apiCallScript(PASSWORD, 'http://127.0.0.1:80', { method: 'POST', path: '/script/api/loadfleet?action=upload', upload: { fileName: 'a.groovy', content: GROOVY, description: 'loadfleet run r1' } });
    expect(sh).toContain(`-F 'description=loadfleet run r1' -F "uploadFile=@$t/script;filename=a.groovy"`);
  });
  it.each([
    ['short', 'must be 20-64 letters and digits'],
    ["Abcdefghij0123456789'x", 'must be 20-64 letters and digits'],
  ])('fails when the stored password is %j', (pw, msg) => {
    expect(() => apiCallScript(pw, 'http://127.0.0.1', { method: 'GET', path: '/x' })).toThrow(msg);
  });
  it('creates the script folder with its name as the request body (FileEntryApiController.addFolder, 3.5.9-p1)', () => {
    const call = createFolderCall();
    expect(call).toEqual({ method: 'POST', path: '/script/api/new/?type=folder', text: 'loadfleet' });
    const sh = apiCallScript('Abcdefghij0123456789XYZ', 'http://127.0.0.1:80', call);
    expect(sh).toContain(`printf %s '${Buffer.from('loadfleet').toString('base64')}' | base64 -d > "$t/body"`);
    expect(sh).toContain(`-H 'Content-Type: text/plain; charset=UTF-8' --data-binary @"$t/body"`);
    expect(sh).not.toContain('folderName');
  });

  it('fails when the path carries shell or space characters', () => {
    expect(() => apiCallScript(PASSWORD, 'http://127.0.0.1', { method: 'GET', path: '/x y' })).toThrow('unexpected nGrinder API path');
  });
});

describe('API answers', () => {
  it('splits the body from the status line', () => {
    expect(parseApiOutput('{"id":7}\n200\n')).toEqual({ code: 200, body: '{"id":7}' });
    expect(parseApiOutput('\n000\n')).toEqual({ code: 0, body: '' });
  });
  it("fails with nGrinder's own message", () => {
    expect(() => apiJson('creating the test', { code: 500, body: '{"success":false,"message":"test agent should be equal to or less than 2"}' })).toThrow('creating the test: HTTP 500: test agent should be equal to or less than 2');
    expect(() => apiJson('x', { code: 401, body: '' })).toThrow('refused the stored admin password');
    expect(() => apiJson('x', { code: 0, body: '' })).toThrow('did not answer on 127.0.0.1');
  });
  it('reads the agent list (AgentInfo) and the available count', () => {
    const list = [
      { id: 1, ip: '10.0.1.21', hostName: 'agent-1', state: 'READY', approved: true, region: 'NONE', port: 40000, version: '3.5.9-p1' },
      { id: 2, ip: '10.0.1.22', hostName: 'agent-2', state: 'BUSY', approved: false, region: 'NONE' },
    ];
    expect(parseAgents(list)).toEqual([
      { ip: '10.0.1.21', name: 'agent-1', state: 'READY', approved: true },
      { ip: '10.0.1.22', name: 'agent-2', state: 'BUSY', approved: false },
    ]);
    expect(parseAvailableAgents({ availableAgentCount: 2 })).toBe(2);
    expect(() => parseAvailableAgents({})).toThrow('unexpected availableAgentCount');
  });
});

// GET /perftest/api/{id}/sample: {perf: SingleConsole.statisticData, agent, monitor, status}.
const SAMPLE = {
  status: 'TESTING',
  perf: {
    test_time: 12,
    totalStatistics: { Tests: 1180, Errors: 20, TPS: 98.5, Peak_TPS: 120, 'Mean_Test_Time_(ms)': 10.25, Response_bytes_per_second: 1000, Mean_time_to_first_byte: 9.1, User_defined: 0 },
    cumulativeStatistics: [{ testNumber: 1, testDescription: 'GET /', Tests: 1180, Errors: 20, TPS: 98.5, 'Mean_Test_Time_(ms)': 10.25 }],
    lastSampleStatistics: [{ testNumber: 1, testDescription: 'GET /', Tests: 99, Errors: 1, TPS: 99, 'Mean_Test_Time_(ms)': 10 }],
    tpsChartData: 99,
    peakTpsForGraph: 120,
    process: 3,
    thread: 12,
    success: true,
  },
  agent: {},
};

describe('parseSample', () => {
  it('counts a failed test as a request (Tests + Errors) and reads the running threads', () => {
    expect(parseSample(SAMPLE)).toEqual({ status: 'TESTING', requests: 1200, failures: 20, tps: 98.5, meanMs: 10.25, threads: 12, processes: 3 });
  });
  it('reads a sample before the first statistics (no perf yet) as zero', () => {
    expect(parseSample({ status: 'START_TESTING' })).toEqual({ status: 'START_TESTING', requests: 0, failures: 0, tps: 0, meanMs: null, threads: 0, processes: 0 });
  });
});

// The report CSV as SingleConsole.writeIntervalCsvData writes it (naver/ngrinder ngrinder-3.5.9-p1-20240613,
// ngrinder-core/src/main/java/net/grinder/SingleConsole.java): DateTime, vuser, the interval's statistics (Peak TPS
// left out), then — only with more than one Test — per test Description and <stat>-<i>, i from 1.
const CSV = [
  'DateTime,vuser,Tests,Errors,Mean_Test_Time_(ms),Test_Time_Standard_Deviation_(ms),TPS,Mean_time_to_first_byte,Description,Tests-1,Errors-1,Mean_Test_Time_(ms)-1,Test_Time_Standard_Deviation_(ms)-1,TPS-1,Mean_time_to_first_byte-1,Description,Tests-2,Errors-2,Mean_Test_Time_(ms)-2,Test_Time_Standard_Deviation_(ms)-2,TPS-2,Mean_time_to_first_byte-2',
  '2026-11-25 17:00:01,8,100,0,12,3,100,11,GET /,60,0,10,2,60,9,GET /api,40,0,15,4,40,14',
  '2026-11-25 17:00:02,8,200,10,9,2,200,8,GET /,100,4,6,1,100,5,GET /api,100,6,12,3,100,11',
  // A description with a comma (nGrinder does not quote): totals kept, per-test part dropped.
  '2026-11-25 17:00:03,8,50,0,20,5,50,19,GET /a,b,50,0,20,5,50,19,GET /api,0,0,0,0,0,0',
].join('\n');
// One Test: no per-test columns at all (`if (intervalStatisticMapPerTest.size() != 1)`).
const CSV_ONE_TEST = ['DateTime,vuser,Tests,Errors,Mean_Test_Time_(ms),TPS', '2026-11-25 17:00:01,8,100,1,12,100', ''].join('\n');

describe('parseReportCsv / ngrinderStats', () => {
  it('reads every interval and each test by its header, dropping only per-test parts it cannot align', () => {
    const { intervals, skippedPerTestRows } = parseReportCsv(CSV);
    expect(intervals.map((x) => [x.tests, x.errors, x.meanMs])).toEqual([[100, 0, 12], [200, 10, 9], [50, 0, 20]]);
    expect(intervals[1]!.perTest).toEqual([{ name: 'GET /', tests: 100, errors: 4, meanMs: 6 }, { name: 'GET /api', tests: 100, errors: 6, meanMs: 12 }]);
    expect(intervals[2]!.perTest).toEqual([]);
    expect(skippedPerTestRows).toBe(1);
  });

  it('totals from the PerfTest, endpoints and timeline from the CSV, and no percentile, min or max', () => {
    // GET /perftest/api/{id} after the end: PerfTestService.updatePerfTestAfterTestFinish fills these.
    const perfTest = { id: 7, status: 'FINISHED', tests: 350, errors: 10, meanTestTime: 11.86, testTimeStandardDeviation: 3.1, tps: 116.7, peakTps: 200, samplingInterval: 1 };
    // RPS over the 3 sampled seconds, not over the run's wall time (given as 9 s)
    const st = ngrinderStats(perfTest, CSV, 9);
    expect(st.total).toEqual({ name: 'Total', requests: 360, failures: 10, rps: 120, min: null, mean: 11.86, p50: null, p90: null, p95: null, p99: null, max: null });
    // GET / : (60×10 + 100×6) / 160 = 7.5 ms over 160 successful tests, 4 errors.
    expect(st.endpoints).toEqual([
      { name: 'GET /', requests: 164, failures: 4, rps: 54.667, min: null, mean: 7.5, p50: null, p90: null, p95: null, p99: null, max: null },
      { name: 'GET /api', requests: 146, failures: 6, rps: 48.667, min: null, mean: 12.857, p50: null, p90: null, p95: null, p99: null, max: null },
    ]);
    expect(st.timeline).toEqual([
      { t: 1, rps: 100, errorsPerS: 0, p50: null, p95: null, mean: 12 },
      { t: 2, rps: 210, errorsPerS: 10, p50: null, p95: null, mean: 9 },
      { t: 3, rps: 50, errorsPerS: 0, p50: null, p95: null, mean: 20 },
    ]);
  });

  it('sums the CSV when the PerfTest could not be read', () => {
    const st = ngrinderStats(undefined, CSV, 3);
    expect([st.total.requests, st.total.failures]).toEqual([360, 10]);
    // (100×12 + 200×9 + 50×20) / 350
    expect(st.total.mean).toBeCloseTo(11.429, 3);
  });

  it('has no mean when no test succeeded', () => {
    expect(ngrinderStats({ tests: 0, errors: 5, meanTestTime: 0 }, undefined, 2).total).toMatchObject({ requests: 5, failures: 5, rps: 2.5, mean: null });
  });

  it('has no per-test columns, and so no endpoints, when the script has a single Test', () => {
    const { intervals } = parseReportCsv(CSV_ONE_TEST);
    expect(intervals).toEqual([{ tests: 100, errors: 1, meanMs: 12, perTest: [] }]);
    expect(ngrinderStats(undefined, CSV_ONE_TEST, 1).total).toMatchObject({ requests: 101, failures: 1 });
  });

  it('fails when the CSV has no Tests/Errors columns', () => {
    expect(() => parseReportCsv('DateTime,TPS\n1,2')).toThrow('no Tests/Errors columns');
  });
});

describe('percentiles nGrinder does not measure', () => {
  it('refuses a threshold on them before the run, and keeps the others', () => {
    expect(() => refuseUnmeasuredThresholds(['p95<500ms', 'max<1s', 'errors<1%'].map(parseThreshold))).toThrow("--threshold 'p95<500ms', 'max<1s': nGrinder does not measure p95, max");
    expect(() => refuseUnmeasuredThresholds(['mean<50ms', 'errors<1%', 'rps>10', 'requests>1'].map(parseThreshold))).not.toThrow();
  });
  it('breaks a threshold on a null figure instead of reading it as 0', () => {
    const st = ngrinderStats({ tests: 10, errors: 0, meanTestTime: 5 }, undefined, 1);
    const [r, m] = evaluate([parseThreshold('p95<500ms'), parseThreshold('mean<50ms')], st);
    expect(r).toMatchObject({ ok: false, measured: null, missing: 'not measured by the engine' });
    expect(m).toMatchObject({ ok: true, measured: 5 });
  });
  it('writes them as empty CSV fields and n/a, never 0', () => {
    const st = ngrinderStats({ tests: 10, errors: 1, meanTestTime: 5 }, undefined, 2);
    const s = buildSummary({
      runId: 'r1', env: 'e', engine: 'ngrinder', script: 's.groovy', startedAtMs: 0, endedAtMs: 2000, plan: resolveLoad({}), stats: st,
      generators: [], interrupted: false, saturation: [], network: [], thresholds: [], merge: 'm',
    });
    expect(statsCsv(s).split('\n')[1]).toBe('Total,11,1,5.5,,5,,,,,');
    expect(summaryText(s, '/d')).toContain('latency ms: mean 5 (ngrinder measures no percentiles)');
    expect(reportHtml(s)).toContain('<td>n/a</td>');
  });
});

describe('ngrinderRun.check (before any host is touched)', () => {
  const prepared = (over: Partial<Prepared>): Prepared => ({
    outputs: { env: 'e', hosts: [{ name: 'agent-1', role: 'agent' }, { name: 'agent-2', role: 'agent' }] } as unknown as Prepared['outputs'],
    kind: 'ec2', engine: 'ngrinder', scriptPath: 't.groovy', scriptText: GROOVY, plan: resolveLoad({ users: 4 }), thresholds: [], hostUrl: 'http://10.0.0.5:80', passthrough: [],
    ...over,
  });
  it('passes a plain run', () => {
    expect(() => ngrinderRun.check!(prepared({ passthrough: ['processes=2'], thresholds: [parseThreshold('errors<1%')] }))).not.toThrow();
  });
  it.each([
    [{ thresholds: [parseThreshold('p99<1s')] }, 'nGrinder does not measure p99'],
    [{ passthrough: ['duration=1'] }, 'is set by loadfleet'],
    [{ plan: resolveLoad({ stages: [{ durationS: 10, target: 5 }] }) }, 'nGrinder has no stages'],
  ])('fails when the run asks for what nGrinder cannot do (%#)', (over, msg) => {
    expect(() => ngrinderRun.check!(prepared(over as Partial<Prepared>))).toThrow(UsageError);
    expect(() => ngrinderRun.check!(prepared(over as Partial<Prepared>))).toThrow(msg);
  });
  it('finds a test folder by id only', () => {
    expect(testDirScript('/var/lib/loadfleet/ngrinder', 7)).toContain("find '/var/lib/loadfleet/ngrinder/perftest' -maxdepth 3 -type d -name 7");
    expect(() => testDirScript('/h', 0)).toThrow('bad nGrinder test id');
  });
});
