/**
 * "Run this on the host as root": the one privilege-aware remote operation that tune, bake and install
 * share. Root logins run the script directly; any other login (ec2-user on Amazon Linux) goes through
 * `sudo -n`, which never prompts: a host whose sudo wants a password fails with a clear per-host error
 * instead of hanging or silently doing nothing. Pure apart from the session port it is given.
 */
import type { ExecResult, SshSession } from './fanout';
import { ExternalError } from './errors';

/** The command that runs a script read from stdin as root, for a given login user. */
export function asRootCommand(login: string, command = 'sh -s'): string {
  return login === 'root' ? command : `sudo -n ${command}`;
}

const SUDO_REFUSED = /sudo: (a password is required|a terminal is required|.*is not in the sudoers file|.*may not run sudo)|sudo: command not found|sudo: not found/;

/** Why sudo refused, when it did: the reason to show for that host; undefined when sudo was not the problem. */
export function sudoRefusal(login: string, r: Pick<ExecResult, 'code' | 'stderr'>): string | undefined {
  if (login === 'root' || r.code === 0) return undefined;
  const m = SUDO_REFUSED.exec(r.stderr);
  if (!m) return undefined;
  return `login "${login}" cannot become root without a password (${m[0].trim()}): give ${login} passwordless sudo (NOPASSWD, as Amazon Linux does for ec2-user), or set sshUser to root`;
}

export class RemoteStepError extends ExternalError {
  constructor(message: string, readonly result?: ExecResult) {
    super(message);
    this.name = 'RemoteStepError';
  }
}

/**
 * Runs `script` (sh) as root on the host and returns its output; throws a RemoteStepError naming
 * `what` on a sudo refusal or a non-zero exit (with the script's own stderr, which says which step failed).
 */
export async function runAsRoot(session: SshSession, login: string, script: string, what: string, opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
  const r = await session.exec(asRootCommand(login), { stdin: script, timeoutMs: opts.timeoutMs });
  const refused = sudoRefusal(login, r);
  if (refused) throw new RemoteStepError(`${what}: ${refused}`, r);
  if (r.code !== 0) {
    const detail = (r.stderr.trim() || r.stdout.trim().split('\n').slice(-5).join('\n')).slice(0, 2000);
    throw new RemoteStepError(`${what} failed (exit ${r.code ?? 'signal'}): ${detail}`, r);
  }
  return r;
}
