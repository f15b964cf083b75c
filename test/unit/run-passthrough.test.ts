import { describe, expect, it } from 'vitest';
import { UsageError } from '../../scripts/core/errors';
import { artilleryPassthrough, locustConf, splitOptions } from '../../scripts/run/passthrough';
import { artilleryRun } from '../../scripts/drivers/artillery';
import { locustRun } from '../../scripts/drivers/locust';

describe('splitOptions', () => {
  it('groups the values that follow an option, takes --name=value as one value, keeps negative numbers as values', () => {
    expect(splitOptions('X', ['--tags', 'a', 'b', '--flag', '--n=-1', '-s', '-5'], 'why')).toEqual([
      { given: '--tags', name: 'tags', long: true, values: ['a', 'b'] },
      { given: '--flag', name: 'flag', long: true, values: [] },
      { given: '--n', name: 'n', long: true, values: ['-1'] },
      { given: '-s', name: 's', long: false, values: ['-5'] },
    ]);
  });
  it('fails when a value comes first (a positional argument), naming it and why', () => {
    expect(() => splitOptions('Locust', ['Web', '--tags', 'a'], 'pick the classes in the locustfile')).toThrow('Locust option list: "Web" is not an option (it follows no option that takes a value): pick the classes in the locustfile');
  });
  it('fails when a value follows --name=value', () => {
    expect(() => splitOptions('X', ['--a=1', 'b'], 'why')).toThrow('"b" is not an option');
  });
  it('fails on glued short options and on a second --', () => {
    expect(() => splitOptions('X', ['-Tapi'], 'why')).toThrow('give a short option and its value apart (-T VALUE)');
    expect(() => splitOptions('X', ['--', '--a'], 'why')).toThrow('second "--"');
  });
});

describe('artilleryPassthrough (artillery run 2.0.21 flags)', () => {
  it('passes the allowed flags, short forms turned long, values kept as given', () => {
    expect(artilleryPassthrough(['-e', 'staging', '--scenario-name', 'Checkout flow', '-k', '--quiet', '--variables={"a":1}'])).toEqual([
      '--environment', 'staging', '--scenario-name', 'Checkout flow', '--insecure', '--quiet', '--variables', '{"a":1}',
    ]);
    expect(artilleryPassthrough([])).toEqual([]);
  });
  it.each([
    [['--output', 'x.json'], '--output is loadfleet\'s to set: loadfleet writes and collects'],
    [['-o', 'x.json'], '-o is loadfleet\'s to set'],
    [['--overrides', '{}'], '--overrides is loadfleet\'s to set: loadfleet overrides config.target and config.phases'],
    [['--target', 'http://x'], '--target is loadfleet\'s to set: the target comes from loadfleet run --host'],
    [['-t', 'http://x'], '-t is loadfleet\'s to set'],
    [['--count', '2'], '--count is loadfleet\'s to set'],
    [['--solo'], '--solo is loadfleet\'s to set'],
    [['--record', '--key', 'k'], '--record is loadfleet\'s to set: a run\'s results stay on this machine'],
    [['--platform', 'aws:lambda'], '--platform is loadfleet\'s to set'],
    [['--payload', 'p.csv'], '--payload is loadfleet\'s to set: only the --script file is pushed'],
  ])('fails when given %j, naming the option', (args, msg) => {
    expect(() => artilleryPassthrough(args)).toThrow(UsageError);
    expect(() => artilleryPassthrough(args)).toThrow(`Artillery option ${msg}`);
  });
  it('fails on an option artillery run does not take, listing the ones passed', () => {
    expect(() => artilleryPassthrough(['--nope'])).toThrow('--nope is not an option loadfleet passes to artillery run 2.0.21; these are: --environment/-e, --scenario-name');
  });
  it('fails on a wrong number of values', () => {
    expect(() => artilleryPassthrough(['--environment'])).toThrow('Artillery option --environment takes one value (0 given)');
    expect(() => artilleryPassthrough(['--quiet', 'x'])).toThrow('Artillery option --quiet takes no value ("x" given)');
  });
  it('is the driver module\'s checkPassthrough', () => {
    expect(() => artilleryRun.checkPassthrough!(['--output', 'x'])).toThrow(UsageError);
    expect(() => artilleryRun.checkPassthrough!(['--quiet'])).not.toThrow();
  });
});

describe('options that would decide the verdict outside loadfleet', () => {
  it('fails when an Artillery script has ensure checks (per agent, their exit code is never read), pointing to --threshold', async () => {
    for (const yaml of [
      'config:\n  ensure:\n    p95: 500\nscenarios:\n  - flow: []\n',
      'config:\n  plugins:\n    ensure: {}\nscenarios:\n  - flow: []\n',
      'config:\n  environments:\n    prod:\n      ensure:\n        maxErrorRate: 1\nscenarios:\n  - flow: []\n',
    ]) {
      const check = artilleryRun.validate('t.yml', yaml);
      await expect(check).rejects.toThrow(UsageError);
      await expect(artilleryRun.validate('t.yml', yaml)).rejects.toThrow("use loadfleet's --threshold, judged on the merged results of every agent");
    }
    await expect(artilleryRun.validate('t.yml', 'config:\n  target: http://x\nscenarios:\n  - flow: []\n')).resolves.toBeUndefined();
  });
});

describe('locustConf (configargparse DefaultConfigFileParser syntax)', () => {
  it('writes long names, flags as true, one value quoted, several as a JSON list', () => {
    expect(locustConf(['--tags', 'api', 'x y', '-s', '5', '--skip-log-setup', '--exclude-tags=a"b', '-L', 'DEBUG']).split('\n').slice(1)).toEqual([
      'tags = ["api","x y"]', 'stop-timeout = "5"', 'skip-log-setup = true', `exclude-tags = 'a"b'`, 'loglevel = "DEBUG"', '',
    ]);
  });
  it('is empty without options (the driver then removes locust.conf)', () => {
    expect(locustConf([])).toBe('');
  });
  it.each([
    ['--master', 'the master on the controller and the workers'],
    ['--master-host', 'the master on the controller'],
    ['--worker', 'the master on the controller'],
    ['--expect-workers', 'the master on the controller'],
    ['-f', 'the locustfile is loadfleet run --script'],
    ['--locustfile', 'the locustfile is loadfleet run --script'],
    ['--headless', 'web API'],
    ['--web-port', 'web API'],
    ['--autostart', 'web API'],
    ['-u', 'the load comes from --users, --rate, --duration or --stages'],
    ['--users', 'the load comes from'],
    ['-r', 'the load comes from'],
    ['-t', 'the load comes from'],
    ['--run-time', 'the load comes from'],
    ['-H', 'the target comes from loadfleet run --host'],
    ['--csv', 'loadfleet collects the results'],
    ['--html', 'loadfleet collects the results'],
    ['--logfile', 'loadfleet collects the results'],
    ['--config', 'loadfleet writes the config file'],
    ['--list', 'print and exit'],
    // Options that would change the verdict or the numbers (issue 15 item 8): Locust's own exit code is not run's.
    ['--exit-code-on-error', "use --threshold 'errors<=0%' (exit 3)"],
    ['--reset-stats', 'the summary must count every request the target served'],
  ])('fails when given %s, naming it and what to use instead', (opt, why) => {
    expect(() => locustConf([opt, 'x'])).toThrow(UsageError);
    expect(() => locustConf([opt, 'x'])).toThrow(`Locust option ${opt} is loadfleet's to set: `);
    expect(() => locustConf([opt, 'x'])).toThrow(why);
  });
  it('fails on a short option it cannot name, a positional, a line break, a list-looking value', () => {
    expect(() => locustConf(['-x', '1'])).toThrow('Locust option -x: give its long form (--name)');
    expect(() => locustConf(['Web'])).toThrow('Locust\'s config file cannot hold positional arguments');
    expect(() => locustConf(['--tags', 'a\nb'])).toThrow('a value cannot hold a line break');
    expect(() => locustConf(['--tags', '[a]'])).toThrow('would be read as one from the config file');
  });
  it('is the driver module\'s checkPassthrough', () => {
    expect(() => locustRun.checkPassthrough!(['--master'])).toThrow(UsageError);
    expect(() => locustRun.checkPassthrough!(['--tags', 'api'])).not.toThrow();
  });
});
