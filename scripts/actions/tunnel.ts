/** `loadfleet tunnel`: an SSH port-forward to a UI of the fleet, through the pinned host key, until Ctrl-C. */
import * as net from 'node:net';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { ExternalError, ToolMissingError, UsageError } from '../core/errors';
import { positiveNumber } from '../core/flags';
import { defaultTunnelTarget, planTunnel } from '../monitoring/tunnel';

export interface TunnelOptions extends CommonOptions {
  readonly localPort?: string;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port on 127.0.0.1 chosen by the kernel (listen on 0). */
async function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function tunnelAction(target: string | undefined, opts: TunnelOptions): Promise<void> {
  const ctx = await resolveEnv(opts, true);
  const loaded = ctx.loaded!;
  const outputs = await ctx.envDir.requireOutputs();
  const localPort = opts.localPort === undefined ? undefined : positiveNumber('--local-port', opts.localPort, 0, { integer: true });
  if (localPort !== undefined && localPort > 65535) throw new UsageError(`--local-port (${localPort}) must be at most 65535`);
  const planFor = (port: number | undefined) => planTunnel(outputs, {
    target: target ?? defaultTunnelTarget(outputs),
    localPort: port,
    monitoringEnabled: loaded.config.monitoring.enabled,
    privateKeyPath: loaded.privateKeyPath,
    knownHostsFile: ctx.envDir.knownHosts,
  });
  let plan = planFor(localPort);
  if (!(await portFree(plan.localPort))) {
    // The UI's port is privileged (nGrinder's 80) and its high stand-in is taken: any free high port will do.
    if (plan.localPortFrom === 'high') plan = planFor(await anyFreePort());
    else throw new UsageError(`local port ${plan.localPort} is in use on this machine: pass --local-port <another port>`);
  }
  if (plan.localPortFrom !== 'given' && plan.localPort !== plan.remote.port) {
    process.stdout.write(`local port ${plan.remote.port} needs root; listening on ${plan.localPort} instead (choose one with --local-port)\n`);
  }

  // A private host's ProxyCommand keeps its master connection in ~/.ssh (issue 18): ssh cannot bind without the folder.
  if (plan.argv.some((a) => a.startsWith('ProxyCommand='))) await fs.mkdir(path.join(os.homedir(), '.ssh'), { recursive: true, mode: 0o700 });
  const child = spawn(plan.argv[0]!, plan.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('exit', (code) => resolve({ code }));
    child.once('error', (error) => resolve({ code: null, error }));
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Only our own ssh, by its PID.
    if (child.pid !== undefined && child.exitCode === null) child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    // Ready when the forward's local end accepts connections (ssh binds it after authentication).
    let ready = false;
    while (!ready && child.exitCode === null && !stopping) {
      ready = await accepts(plan.localPort);
      if (!ready) await Promise.race([exited, new Promise((r) => setTimeout(r, 200))]);
    }
    if (ready) {
      process.stdout.write(`${plan.target} of env ${outputs.env} (${plan.host}:${plan.remote.port}) at ${plan.url}\nforwarding through ${plan.address} with the pinned host key; Ctrl-C to stop\n`);
    }
    const end = await exited;
    if (end.error) {
      if ((end.error as NodeJS.ErrnoException).code === 'ENOENT') throw new ToolMissingError('ssh', 'apt-get install openssh-client (or your system\'s OpenSSH client)');
      throw end.error;
    }
    if (!stopping) {
      throw new ExternalError(`ssh to ${plan.host} (${plan.address}) ended (exit ${end.code}): ${stderr.trim() || 'no message'}${/Host key verification failed/.test(stderr) ? ` — the host key is not the one pinned in ${ctx.envDir.knownHosts}` : ''}`);
    }
    process.stdout.write('tunnel closed\n');
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    stop();
  }
}
