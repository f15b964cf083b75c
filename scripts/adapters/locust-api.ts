/**
 * The Locust master's web API (web-UI mode), the only way `run` drives Locust. The UI listens on 127.0.0.1
 * of the controller only, so every call is curl on the controller over SSH (the sh is pure:
 * scripts/run/locust-control.ts); `exec` runs a sh there as root and returns its stdout.
 */
import { ExternalError } from '../core/errors';
import { locustApiScript, parseLocustApiOutput } from '../run/locust-control';

export type ControllerExec = (script: string, what: string) => Promise<string>;

export class LocustApi {
  /** The run's owner file: every call refreshes it once set (the watchdog stops the load when it goes stale). */
  owner: string | undefined;

  constructor(private readonly exec: ControllerExec, private readonly webPort: number, readonly where: string, private readonly timeoutS = 10) {}

  private async call(path: string, form?: Record<string, string>): Promise<string> {
    let out: string;
    try {
      out = await this.exec(locustApiScript(this.webPort, path, { form, owner: this.owner, timeoutS: this.timeoutS }), `calling the Locust master's ${path}`);
    } catch (e) {
      throw new ExternalError(`Locust master ${this.where}${path} did not answer: ${(e as Error).message}`);
    }
    const { body, status } = parseLocustApiOutput(out);
    if (status === null || status < 200 || status >= 300) throw new ExternalError(`Locust master ${this.where}${path} answered HTTP ${status ?? '(none)'}: ${body.slice(0, 300)}`);
    return body;
  }

  async stats(): Promise<unknown> {
    return JSON.parse(await this.call('/stats/requests'));
  }

  /**
   * Starts (or re-targets) the swarm: Locust moves to userCount at spawnRate users/s. runTimeS (the first
   * call only): the master stops the users by itself that many seconds later.
   */
  async swarm(userCount: number, spawnRate: number, host: string, runTimeS?: number): Promise<void> {
    const form: Record<string, string> = { user_count: String(userCount), spawn_rate: String(spawnRate), host };
    if (runTimeS !== undefined) form.run_time = `${Math.ceil(runTimeS)}s`;
    const j = JSON.parse(await this.call('/swarm', form)) as { success?: boolean; message?: string };
    if (j.success === false) throw new ExternalError(`Locust master refused /swarm: ${j.message ?? 'no reason given'}`);
  }

  async stop(): Promise<void> {
    await this.call('/stop');
  }

  async reset(): Promise<void> {
    await this.call('/stats/reset');
  }

  async text(path: string): Promise<string> {
    return this.call(path);
  }
}
