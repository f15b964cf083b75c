import type { Command } from 'commander';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('compare').description('is CANDIDATE slower than BASE? exit 0 pass, 3 regression, 4 inconclusive (runs not comparable, or the data cannot tell)'))
    .argument('<base>', 'run id, --label name, latest, or a run folder path')
    .argument('<candidate>', 'run id, --label name, latest, or a run folder path')
    .option('--max-p95-increase <pct>', 'largest p95 increase that passes (default 10%)')
    .option('--max-rps-drop <pct>', 'largest rps drop that passes (default 5%)')
    .option('--max-error-increase <pp>', 'largest error-rate increase that passes, percentage points (default 0.5pp)')
    .option('--alpha <a>', 'false-alarm rate of the statistical tests, over all figures (default 0.05)')
    .option('--max-start-spread <ms>', 'largest generator start spread either run may have (default 1000ms)')
    .option('--min-seconds <n>', 'fewest seconds with requests per endpoint for a figure to be tested (default 5)')
    .option('--min-requests <n>', 'fewest requests per endpoint for its p95 to be tested (default 100)')
    .option('--junit <file>', 'JUnit XML: one testcase per threshold and per compared figure')
    .option('--markdown <file>', 'a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)')
    .option('--html <file>', 'where the page goes (default: compare-<base>.html in the candidate\'s run folder)')
    .addOption(jsonOption())
    .action(async (base: string, candidate: string, opts) => (await import('../actions/compare')).compareAction(base, candidate, opts));
}
