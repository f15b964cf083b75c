// Preload (node --import) for whole-process benchmarks: writes the process's peak RSS (MB) to $BENCH_RSS at exit.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS / 1024)));
