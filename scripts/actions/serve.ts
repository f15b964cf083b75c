/**
 * `loadfleet serve`: the local target's HTTP server — Debian's nginx started inside every target host's
 * namespaces on its group's first port, with an access log (`--stop`: stopped by its PID). On EC2 the
 * targets are the user's own servers, so this is for the local target only.
 */
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { jumpFor } from '../core/door';
import { ExternalError, UsageError } from '../core/errors';
import { runAsRoot } from '../core/privilege';
import { startScript, stopScript } from '../run/target-server';

export interface ServeOptions extends CommonOptions {
  readonly stop?: boolean;
  readonly json?: boolean;
}

export async function serveAction(opts: ServeOptions): Promise<void> {
  const ctx = await resolveEnv(opts, true);
  const outputs = await ctx.envDir.requireOutputs();
  if (outputs.target !== 'local') throw new UsageError('serve starts nginx on the local target only; on AWS the targets are your own servers');
  const targets = outputs.hosts.filter((h) => h.role === 'target');
  if (targets.length === 0) throw new UsageError(`env "${outputs.env}" has no target hosts: add a targets: group to the config and run "loadfleet up"`);
  const knownHosts = new KnownHosts(ctx.envDir.knownHosts);
  const results = await Promise.all(targets.map(async (h) => {
    const port = ctx.loaded!.config.targets.find((t) => t.name === h.group)?.ports[0] ?? 8080;
    const session = await connectSsh(h.publicIp || h.privateIp, { user: outputs.sshUser, privateKeyPath: ctx.loaded!.privateKeyPath, knownHosts, via: jumpFor(outputs.hosts, h.publicIp || h.privateIp) });
    try {
      const r = await runAsRoot(session, outputs.sshUser, opts.stop ? stopScript() : startScript(port), `${opts.stop ? 'stopping' : 'starting'} nginx on ${h.name}`);
      return { host: h.name, url: `http://${h.privateIp}:${port}`, detail: r.stdout.trim() };
    } catch (e) {
      throw new ExternalError((e as Error).message);
    } finally {
      session.close();
    }
  }));
  if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else for (const r of results) process.stdout.write(`${r.host}: ${opts.stop ? r.detail || 'nginx was not running' : `${r.detail} serving ${r.url}`}\n`);
}
