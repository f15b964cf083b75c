import { describe, expect, it } from 'vitest';
import { readTuningTemplates } from '../../scripts/adapters/tuning-files';
import { applyScript, compareTuning, fleetListeningPorts, parseObserved, parseSysctl, planTuning, portListValue, PATHS, verifyScript } from '../../scripts/core/tuning';
import { validateFleetConfig } from '../../stacks/config';
import { configInput } from '../harness/fixtures';
import { Engine } from '../../stacks/engines';

const templates = await readTuningTemplates();
const opts = { nofile: 16384, nproc: 65535, engine: Engine.locust(), hostKind: 'ec2' as const, reservedPorts: [22, 5557, 8089, 9100] };

describe('tuning plan', () => {
  it('raises nofile and nproc for * and for root (pam_limits ignores * for root)', () => {
    const limits = planTuning('agent', opts, templates).files.find((f) => f.path === PATHS.limits)!.content;
    for (const who of ['*', 'root']) {
      for (const kind of ['soft', 'hard']) {
        expect(limits).toMatch(new RegExp(`^${who === '*' ? '\\*' : who}\\s+${kind}\\s+nofile\\s+16384$`, 'm'));
        expect(limits).toMatch(new RegExp(`^${who === '*' ? '\\*' : who}\\s+${kind}\\s+nproc\\s+65535$`, 'm'));
      }
    }
  });

  it('gives generators port range and TIME-WAIT reuse, targets deep backlogs', () => {
    const agent = planTuning('agent', opts, templates).sysctl;
    expect(agent).toMatchObject({ 'net.ipv4.ip_local_port_range': '1024 65535', 'net.ipv4.tcp_tw_reuse': '1', 'net.ipv4.tcp_fin_timeout': '15' });
    expect(agent['net.core.somaxconn']).toBeUndefined();
    const target = planTuning('target', opts, templates).sysctl;
    expect(target).toMatchObject({ 'net.core.somaxconn': '65535', 'net.ipv4.tcp_max_syn_backlog': '65535' });
    expect(target['net.ipv4.tcp_tw_reuse']).toBeUndefined();
  });

  it('raises fs.nr_open first, to at least the nofile target, on EC2', () => {
    const big = planTuning('agent', { ...opts, nofile: 2_000_000 }, templates);
    expect(big.sysctlFiles).toEqual([PATHS.nrOpen, PATHS.sysctl]);
    expect(big.sysctl['fs.nr_open']).toBe('2000000');
    expect(planTuning('agent', opts, templates).sysctl['fs.nr_open']).toBe('1048576');
  });

  it('leaves machine-wide settings alone on namespace hosts, and says so', () => {
    const p = planTuning('agent', { ...opts, hostKind: 'netns' }, templates);
    expect(p.sysctl['fs.nr_open']).toBeUndefined();
    expect(p.sysctl['net.core.netdev_max_backlog']).toBeUndefined();
    expect(p.sysctlFiles).toEqual([PATHS.sysctl]);
    expect(p.notes.join('\n')).toMatch(/net\.core\.netdev_max_backlog: machine-wide/);
  });

  it('writes systemd defaults everywhere and unit limits for the engine\'s agent unit', () => {
    const agent = planTuning('agent', { ...opts, engine: Engine.ngrinder() }, templates);
    expect(agent.files.map((f) => f.path)).toContain('/etc/systemd/system/ngrinder-agent.service.d/90-loadfleet-limits.conf');
    expect(agent.files.find((f) => f.path === PATHS.systemdManager)!.content).toMatch(/^DefaultLimitNOFILE=16384$/m);
    expect(planTuning('target', opts, templates).files.some((f) => f.path.includes('.service.d'))).toBe(false);
  });

  it('applies with sysctl -p on its own files, never --system, and writes only changed files', () => {
    const script = applyScript(planTuning('agent', opts, templates));
    expect(script).toContain(`sysctl -q -p '${PATHS.sysctl}'`);
    expect(script).not.toContain('--system');
    expect(script).toMatch(/cmp -s "\$t" "\$1"/);
  });

  it('verifies from /proc/self/limits and each sysctl\'s /proc file', () => {
    const script = verifyScript(planTuning('target', opts, templates));
    expect(script).toContain('/proc/self/limits');
    expect(script).toContain('/proc/sys/net/core/somaxconn');
  });

  it('parses sysctl files with later lines winning and whitespace normalised', () => {
    expect(parseSysctl('# c\na = 1\nb =  1024\t65535\na=2\n')).toEqual(new Map([['a', '2'], ['b', '1024 65535']]));
  });
});

describe('reserved listening ports', () => {
  const config = (o: Parameters<typeof configInput>[0]) => validateFleetConfig(configInput(o));

  it('takes every port the security groups open: SSH, engine, targets, monitoring', () => {
    expect(fleetListeningPorts(config({ engine: 'locust', targets: [{ name: 'app', ports: [8080, 443] }], monitoring: { enabled: true } }))).toEqual([22, 443, 3000, 5557, 8080, 8089, 9090, 9100]);
    expect(fleetListeningPorts(config({ engine: 'jmeter', targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: false } }))).toEqual([22, 1099, 8080, 9100, 50000, 60000]);
    expect(fleetListeningPorts(config({ engine: 'ngrinder', targets: [{ name: 'web', ports: [80] }] }))).toEqual(expect.arrayContaining([80, 16001, 12000, 12005, 12009]));
  });

  it('renders the list as the kernel prints it back: sorted, runs merged, commas', () => {
    expect(portListValue([9100, 22, 12001, 12000, 12002, 5557, 22])).toBe('22,5557,9100,12000-12002');
    expect(portListValue([])).toBe('');
  });

  it('puts ip_local_reserved_ports in every role\'s sysctl file, on EC2 and namespace hosts, and verifies it', () => {
    for (const role of ['agent', 'controller', 'target', 'monitoring'] as const) {
      for (const hostKind of ['ec2', 'netns'] as const) {
        const p = planTuning(role, { ...opts, hostKind, reservedPorts: [22, 5557, 9100, 12000, 12001] }, templates);
        expect(p.files.find((f) => f.path === PATHS.sysctl)!.content).toMatch(/^net\.ipv4\.ip_local_reserved_ports = 22,5557,9100,12000-12001$/m);
        expect(p.expected).toContainEqual({ setting: 'sysctl net.ipv4.ip_local_reserved_ports', requested: '22,5557,9100,12000-12001' });
      }
    }
    const plan = planTuning('agent', { ...opts, reservedPorts: [22, 5557] }, templates);
    const row = compareTuning(plan, parseObserved('sysctl net.ipv4.ip_local_reserved_ports=22')).find((r) => r.setting === 'sysctl net.ipv4.ip_local_reserved_ports')!;
    expect(row).toMatchObject({ requested: '22,5557', effective: '22', ok: false });
  });
});

describe('apply script', () => {
  const script = applyScript(planTuning('agent', opts, templates));

  it('fails at the first failed write, sysctl or systemd step and names it', () => {
    expect(script).not.toMatch(/exit 0/);
    expect(script).not.toMatch(/\|\| cat /);
    expect(script).toMatch(/^fail\(\) \{ echo "loadfleet: step \$1 failed: .*exit 1; \}$/m);
    expect(script).toMatch(/mkdir -p "\$d" 2>"\$err" \|\| fail "write \$1"/);
    expect(script).toMatch(/mv -fT "\$t" "\$1" 2>"\$err" \|\| \{ rm -f "\$t"; fail "write \$1"; \}/);
    expect(script).toContain(`if ! sysctl -q -p '${PATHS.nrOpen}' >/dev/null 2>"$err" || [ -s "$err" ]; then fail 'sysctl -p ${PATHS.nrOpen}'; fi`);
    expect(script).toContain('systemctl daemon-reexec 2>"$err" || fail "systemd (systemctl daemon-reexec)"');
  });

  it('keeps error output in a private temporary file, removed on exit, never a fixed /tmp path', () => {
    expect(script).not.toMatch(/\/tmp\//);
    expect(script).toMatch(/^err=\$\(mktemp\) \|\| /m);
    expect(script).toContain(`trap 'rm -f "$err"' EXIT`);
  });
});

describe('verification', () => {
  const plan = planTuning('agent', { ...opts, nofile: 50000, hostKind: 'netns' }, templates);
  const observed = (extra: string) =>
    parseObserved(
      [
        'nofile soft=20000', 'nofile hard=20000', 'nproc soft=65535', 'nproc hard=65535', 'host nr_open=1048576', 'host sshd nofile hard=20000',
        'sysctl net.ipv4.ip_local_port_range=1024 65535', 'sysctl net.ipv4.tcp_tw_reuse=1', 'sysctl net.ipv4.tcp_fin_timeout=15',
        'sysctl net.ipv4.tcp_max_tw_buckets=2000000', 'sysctl net.ipv4.tcp_slow_start_after_idle=0', 'sysctl net.ipv4.ip_local_reserved_ports=22,5557,8089,9100', extra,
      ].join('\n'),
    );

  it('reports a hard cap of the host as a shortfall with its reason', () => {
    const rows = compareTuning(plan, observed(''));
    const nofile = rows.find((r) => r.setting === 'nofile hard')!;
    expect(nofile).toMatchObject({ requested: '50000', effective: '20000', ok: false });
    expect(nofile.reason).toMatch(/host caps the hard limit at 20000/);
    expect(rows.filter((r) => !r.ok).map((r) => r.setting)).toEqual(['nofile soft', 'nofile hard']);
  });

  it('explains a sysctl the host cannot change', () => {
    const rows = compareTuning(plan, parseObserved('sysctl net.ipv4.tcp_tw_reuse=2\nwritable net.ipv4.tcp_tw_reuse=0\n'));
    expect(rows.find((r) => r.setting === 'sysctl net.ipv4.tcp_tw_reuse')!.reason).toMatch(/read-only here/);
  });

  it('checks running agent processes\' own limits', () => {
    const rows = compareTuning(plan, observed('process 4242 nofile=1024 4096'));
    expect(rows.at(-1)).toMatchObject({ setting: 'agent pid 4242 nofile', effective: '1024/4096', ok: false });
    expect(rows.at(-1)!.reason).toMatch(/restart it/);
  });

  it('accepts unlimited and larger values as meeting a limit', () => {
    const rows = compareTuning(planTuning('agent', { ...opts, hostKind: 'netns' }, templates), parseObserved('nofile soft=unlimited\nnofile hard=20000\nnproc soft=70000\nnproc hard=unlimited'));
    expect(rows.slice(0, 4).every((r) => r.ok)).toBe(true);
  });
});
