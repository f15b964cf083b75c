/**
 * The config's error type, apart from the schema so that the CLI's error mapping (scripts/cli.ts) does not
 * load zod at start. Re-exported by stacks/config.ts.
 */

/** One problem in a config: where, what was there, what is wrong and how to fix it. */
export interface ConfigProblem {
  readonly path: string;
  readonly value: unknown;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(`${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

export function formatProblem(p: ConfigProblem): string {
  const shown = p.value === undefined ? '' : ` (${JSON.stringify(p.value)})`;
  return `  - ${p.path}${shown} ${p.message}`;
}
