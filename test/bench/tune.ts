/**
 * The same tuning change (write the files, apply, verify in a new session) on 20 and 50 local hosts,
 * with loadfleet and with Ansible (forks = host count), in the same run. Each run flips the nofile
 * target so that every run really changes the files. Also: inventory render for 1,000 hosts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { localFleet } from '../harness/local-fleet';
import { readTuningTemplates } from '../../scripts/adapters/tuning-files';
import { planTuning } from '../../scripts/core/tuning';
import { Engine } from '../../stacks/engines';
import { FORMATS, render, type Inventory } from '../../scripts/core/inventory';
import type { Role } from '../../stacks/config';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function playbookFor(dir: string, nofile: number): Promise<string> {
  const templates = await readTuningTemplates();
  const roles: Role[] = ['controller', 'agent', 'monitoring'];
  const plays = roles.map((role) => {
    const plan = planTuning(role, { nofile, nproc: 65535, engine: Engine.locust(), hostKind: 'netns', reservedPorts: [22] }, templates);
    const group = role === 'agent' ? 'agents' : role;
    return [
      {
        // as root through sudo, like loadfleet's runAsRoot (the local hosts log in as ec2-user, as on EC2)
        hosts: group, gather_facts: false, become: true,
        tasks: [
          ...plan.files.map((f) => ({ name: `write ${f.path}`, copy: { dest: f.path, content: f.content, mode: f.mode } })),
          ...plan.sysctlFiles.map((f) => ({ name: `apply ${f}`, command: `sysctl -q -p ${f}` })),
        ],
      },
      {
        // verification in a new connection, as loadfleet does
        hosts: group, gather_facts: false, vars: { ansible_ssh_common_args: '-o ControlMaster=no -o ControlPath=none -o UserKnownHostsFile={{ known }} -o StrictHostKeyChecking=yes' },
        tasks: [{ name: 'read and compare effective values', shell: `n=$(awk '/^Max open files/ {print $4}' /proc/self/limits); echo "nofile=$n"; cat ${Object.keys(plan.sysctl).map((k) => `/proc/sys/${k.replace(/\./g, '/')}`).join(' ')}; test "$n" -ge ${nofile}` }],
      },
    ];
  });
  const file = path.join(dir, `tune-${nofile}.yml`);
  fs.writeFileSync(file, stringify(plays.flat()));
  return file;
}

async function benchTuneAt(hosts: number, prefix: string, subnet: string, rounds: number): Promise<[number, number]> {
  const fleet = await localFleet(`bt${hosts}`, prefix, subnet, { agents: { count: hosts - 2 }, targets: [] });
  try {
    const inv = path.join(fleet.ws.dir, 'inv.ini');
    await fleet.cli(['inventory', '--env', fleet.name, '-o', inv]);
    const known = path.join(fleet.ws.home, fleet.name, 'known_hosts');
    const ours: number[] = [];
    const theirs: number[] = [];
    const targets = [16000, 16384];
    for (let run = 0; run < rounds; run++) {
      for (const nofile of targets) {
        const cfg = fleet.ws.writeConfig(`n${nofile}.yaml`, { name: fleet.name, local: { prefix, subnet }, agents: { count: hosts - 2 }, targets: [], tuning: { nofile } });
        const t0 = performance.now();
        const r = await fleet.cli(['tune', '-c', cfg, '--json']);
        if (r.exitCode !== 0) throw new Error(`tune failed: ${r.stderr}`);
        ours.push(performance.now() - t0);
      }
      for (const nofile of targets) {
        const book = await playbookFor(fleet.ws.dir, nofile);
        const t0 = performance.now();
        const r = await execa('ansible-playbook', ['-i', inv, '-f', String(hosts), '-e', `known=${known}`, book], { reject: false, env: { ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_STDOUT_CALLBACK: 'minimal', ANSIBLE_NOCOLOR: '1' } });
        if (r.exitCode !== 0) throw new Error(`ansible-playbook failed: ${r.stdout.split("\n").filter((l) => /FAILED|fatal|msg/.test(l)).slice(0, 5).join("\n")}`);
        theirs.push(performance.now() - t0);
      }
    }
    return [median(ours) / 1000, median(theirs) / 1000];
  } finally {
    await fleet.remove();
  }
}

export async function benchTune(): Promise<void> {
  // Ansible needs ~45 s a run at 20 hosts here, so the 50-host case does fewer rounds.
  // BENCH_TUNE_HOSTS=20 runs one size only (Ansible at 50 hosts takes minutes on a busy machine).
  const only = process.env.BENCH_TUNE_HOSTS ? Number(process.env.BENCH_TUNE_HOSTS) : undefined;
  for (const [hosts, goal, prefix, subnet, rounds] of ([[20, 10, 'bta', '10.231.81.0/24', 2], [50, 10, 'btb', '10.231.82.0/24', 1]] as const).filter(([h]) => !only || h === only)) {
    const [ours, ansible] = await benchTuneAt(hosts, prefix, subnet, rounds);
    console.log(`${hosts} hosts: loadfleet tune ${ours.toFixed(2)} s (whole CLI), Ansible forks=${hosts} ${ansible.toFixed(2)} s → ${(ansible / ours).toFixed(1)}× faster (goal ≥ ${goal}×; median of ${rounds * 2} runs that each change the files)`);
  }
}

export async function benchInventory(): Promise<void> {
  const host = { role: 'agent' as const, group: 'agent', name: 'agent-1', id: 'i-0', publicIp: '54.0.0.1', privateIp: '10.0.0.1' };
  const inv: Inventory = {
    env: 'big', target: 'aws', region: 'us-east-1', engine: 'ngrinder', sshUser: 'ec2-user', privateKeyPath: '/k', knownHostsFile: '/kh', master: { address: '10.0.0.1', port: 16001 },
    hosts: Array.from({ length: 1000 }, (_, i) => ({ ...host, name: `agent-${i + 1}`, id: `i-${i}`, privateIp: `10.0.${i >> 8}.${i & 255}` })),
  };
  for (const f of FORMATS) render(inv, f); // warm-up
  for (const f of FORMATS) {
    const times = Array.from({ length: 7 }, () => {
      const t0 = performance.now();
      render(inv, f);
      return performance.now() - t0;
    });
    console.log(`inventory ${f.padEnd(12)} 1,000 hosts: ${median(times).toFixed(1)} ms (goal < 50 ms)`);
  }
}
