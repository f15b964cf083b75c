/** What the run tests and the run bench share: the results folder `run` prints, and a small locustfile. */

/** The run folder from `run`'s output ("results: <dir> (report.html, …)"). */
export function runDirOf(stdout: string): string {
  const m = /results: (\S+) \(report\.html/.exec(stdout);
  if (!m) throw new Error(`no results folder in the output:\n${stdout}`);
  return m[1]!;
}

/** One GET / every 0.1 s per user: light enough that the generators are never the limit. */
export const HOME_LOCUSTFILE = `from locust import HttpUser, constant, task

class Web(HttpUser):
    wait_time = constant(0.1)

    @task
    def home(self):
        self.client.get("/")
`;
