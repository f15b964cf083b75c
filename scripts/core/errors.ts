/**
 * The three kinds of failure and their exit codes (documented in README.md):
 *   2 usage/config: the user can fix the command line or the config;
 *   1 external: AWS, SSH, Terraform or a missing tool said no (their message is shown);
 *   3 a load test ran but broke a --threshold (run prints the threshold, the value and the endpoint);
 *   anything else is a bug (exit 70, stack trace only with DEBUG).
 */
export const EXIT = { ok: 0, external: 1, usage: 2, threshold: 3, internal: 70 } as const;

export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class ExternalError extends Error {
  readonly exitCode = EXIT.external;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExternalError';
  }
}

/** A run worked but its result broke a --threshold (names the threshold, the measured value, the endpoint). */
export class ThresholdError extends Error {
  readonly exitCode = EXIT.threshold;
  constructor(message: string) {
    super(message);
    this.name = 'ThresholdError';
  }
}

/** A program loadfleet needs is not installed: says what to install, never turns into a skip. */
export class ToolMissingError extends ExternalError {
  constructor(tool: string, install: string) {
    super(`${tool} was not found on PATH: ${install}`);
    this.name = 'ToolMissingError';
  }
}
