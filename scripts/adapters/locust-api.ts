/** The Locust master's web API (web-UI mode): the only way `run` drives Locust. */
import { ExternalError } from '../core/errors';

export class LocustApi {
  constructor(readonly base: string, private readonly timeoutMs = 10_000) {}

  private async call(path: string, init?: RequestInit): Promise<Response> {
    try {
      const r = await fetch(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
      if (!r.ok) throw new ExternalError(`Locust master ${this.base}${path} answered HTTP ${r.status}: ${(await r.text()).slice(0, 300)}`);
      return r;
    } catch (e) {
      if (e instanceof ExternalError) throw e;
      throw new ExternalError(`Locust master ${this.base}${path} did not answer: ${(e as Error).message}`);
    }
  }

  async stats(): Promise<unknown> {
    return (await this.call('/stats/requests')).json();
  }

  /** Starts (or re-targets) the swarm: Locust moves to userCount at spawnRate users/s. */
  async swarm(userCount: number, spawnRate: number, host: string): Promise<void> {
    const body = new URLSearchParams({ user_count: String(userCount), spawn_rate: String(spawnRate), host });
    const r = await this.call('/swarm', { method: 'POST', body });
    const j = (await r.json()) as { success?: boolean; message?: string };
    if (j.success === false) throw new ExternalError(`Locust master refused /swarm: ${j.message ?? 'no reason given'}`);
  }

  async stop(): Promise<void> {
    await this.call('/stop');
  }

  async reset(): Promise<void> {
    await this.call('/stats/reset');
  }

  async text(path: string): Promise<string> {
    return (await this.call(path)).text();
  }
}
