/**
 * The three kinds of failure and their exit codes (documented in README.md):
 *   2 usage/config: the user can fix the command line or the config;
 *   1 external: AWS, SSH, Terraform or a missing tool said no (their message is shown); also a confirmation
 *     answered "no" (DeclinedError): nothing was done, which is not a usage mistake (issue 22.11);
 *   3 a load test ran but broke a --threshold (run prints the threshold, the value and the endpoint), or
 *     compare / run --baseline found a regression the data supports;
 *   4 compare / run --baseline was inconclusive (the runs are not comparable, or the data cannot tell: it says why);
 *   anything else is a bug (exit 70, stack trace only with DEBUG).
 */
export const EXIT = { ok: 0, external: 1, usage: 2, threshold: 3, inconclusive: 4, internal: 70 } as const;

export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The user answered "no" at a confirmation: nothing was changed. Exit 1 (not done), never 2 (not a usage error). */
export class DeclinedError extends Error {
  readonly exitCode = EXIT.external;
  constructor(message: string) {
    super(message);
    this.name = 'DeclinedError';
  }
}

export class ExternalError extends Error {
  readonly exitCode = EXIT.external;
  /** The service's own error code where it gave one (e.g. DependencyViolation, InvalidAMIID.NotFound). */
  readonly code?: string;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options);
    this.name = 'ExternalError';
    this.code = options?.code;
  }
}

/** An AWS error's code, whether raw from the SDK or already wrapped. */
export function awsCode(err: unknown): string {
  const e = err as { code?: string; name?: string };
  return String((err instanceof ExternalError ? e.code : undefined) ?? e?.name ?? '');
}

/** A run worked but its result broke a --threshold (names the threshold, the measured value, the endpoint). */
export class ThresholdError extends Error {
  readonly exitCode = EXIT.threshold;
  constructor(message: string) {
    super(message);
    this.name = 'ThresholdError';
  }
}

/** compare's (or run --baseline's) verdict when it is not a pass: regression (3) or inconclusive (4); the reasons were printed. */
export class VerdictError extends Error {
  readonly exitCode: number;
  constructor(verdict: 'regression' | 'inconclusive', message: string) {
    super(message);
    this.name = 'VerdictError';
    this.exitCode = verdict === 'regression' ? EXIT.threshold : EXIT.inconclusive;
  }
}

/** A program loadfleet needs is not installed: says what to install, never turns into a skip. */
export class ToolMissingError extends ExternalError {
  constructor(tool: string, install: string) {
    super(`${tool} was not found on PATH: ${install}`);
    this.name = 'ToolMissingError';
  }
}

/**
 * An error that adds context (what was being done, what was cleaned up) to another, keeping its kind:
 * wrapping never turns a bug into "AWS said no", nor a usage error into either.
 */
export class WrappedError extends Error {
  readonly exitCode: number;
  constructor(message: string, cause: unknown, exitCode?: number) {
    super(message, { cause });
    this.name = 'WrappedError';
    this.exitCode = exitCode ?? exitCodeFor(cause);
  }
}

/** The documented exit code an error stands for (ConfigError and commander errors are mapped by cli.ts). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof ThresholdError) return EXIT.threshold;
  if (err instanceof VerdictError) return err.exitCode;
  if (err instanceof ExternalError || err instanceof DeclinedError) return EXIT.external;
  if (err instanceof WrappedError) return err.exitCode;
  if (err instanceof Error && err.name === 'ConfigError') return EXIT.usage;
  return EXIT.internal;
}

/**
 * An AWS SDK failure as an ExternalError, with the service's own words: its error code and message, or,
 * when the endpoint never answered (refused, DNS, timeout), what the network said and where it went.
 */
export function awsError(what: string, err: unknown): ExternalError | UsageError | WrappedError {
  if (err instanceof ExternalError || err instanceof UsageError || err instanceof WrappedError) return err;
  const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number }; $fault?: string };
  const isAws = e && (e.$metadata !== undefined || e.$fault !== undefined);
  const network = e && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH)$/.test(String(e.code ?? e.name ?? ''));
  const aggregate = err instanceof AggregateError ? err.errors.map((x: { message?: string }) => x.message).join('; ') : '';
  if (isAws || network || err instanceof AggregateError || (e && /TimeoutError|AbortError/.test(String(e.name)))) {
    const detail = aggregate || e.message || String(err);
    const endpoint = network || err instanceof AggregateError ? ' (is the endpoint reachable? AWS_ENDPOINT_URL / region)' : '';
    return new ExternalError(`${what} failed: ${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${detail}${endpoint}`, { cause: err, code: e.name });
  }
  // No credentials, or no region / a bad endpoint: the SDK never sent a request, so there is no $metadata;
  // still the user's setup, not a bug: say what to set.
  const provider = e && (e.name === 'CredentialsProviderError' || e.name === 'ProviderError' || e.name === 'TokenProviderError' || 'tryNextLink' in (e as object));
  if (provider) {
    return new ExternalError(
      `${what} failed: ${e.message ?? String(err)} (no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run \`aws sso login\`)`,
      { cause: err, code: e.name },
    );
  }
  if (e && /Region is missing|Invalid region|Endpoint .*not found|Invalid URL|Invalid endpoint/i.test(String(e.message))) {
    return new ExternalError(`${what} failed: ${e.message} (set AWS_REGION or --region, and check AWS_ENDPOINT_URL)`, { cause: err, code: e.name });
  }
  // Anything else (a TypeError in our own code) stays a bug.
  return new WrappedError(`${what} failed: ${e?.message ?? String(err)}`, err);
}
