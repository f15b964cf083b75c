/**
 * One synth in a fresh process: prints {ms, rssMb}. Mode "submodules" is loadfleet as shipped; mode
 * "index" is the naive baseline: the same app, but with the provider's package index imported.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';

const [agents, mode] = [Number(process.argv[2]), process.argv[3]];
const t0 = performance.now();
if (mode === 'index') await import('@cdktf/provider-aws');
const { validateFleetConfig } = await import('../../stacks/config');
const { synthesize } = await import('../../stacks/app');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-bench-'));
const config = validateFleetConfig({ name: 'bench', access: { sshCidrs: ['203.0.113.7/32'] }, keyPair: { publicKeyPath: 'k.pub' }, agents: { count: agents }, targets: [{ name: 'app', count: 2 }] });
synthesize({ config, publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW bench', expiresAt: '2026-11-24T00:00:00Z' }, out);
const ms = performance.now() - t0;
fs.rmSync(out, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ ms, rssMb: process.resourceUsage().maxRSS / 1024 }));
