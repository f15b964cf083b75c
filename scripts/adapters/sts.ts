/**
 * Who the AWS credentials are (STS GetCallerIdentity), asked before an AWS `up` creates anything (issue 22.10).
 * GetCallerIdentity needs no IAM permission (AWS: "No permissions are required to perform this operation"),
 * so a refusal means the credentials themselves are missing, wrong or expired: the user's setup, exit 2.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { awsError, ExternalError, UsageError } from '../core/errors';

export interface CallerIdentity {
  readonly account: string;
  readonly arn: string;
}

const HOW = 'set AWS_PROFILE (a profile in ~/.aws/config; `aws sso login --profile P` first for SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary keys); `aws sts get-caller-identity` shows what the CLI would use';

/** STS error codes that mean "these credentials are not valid" (not a network or service fault). */
const BAD_CREDENTIALS = /^(InvalidClientTokenId|SignatureDoesNotMatch|ExpiredToken|ExpiredTokenException|UnrecognizedClientException|AuthFailure|InvalidAccessKeyId|AccessDenied|IncompleteSignature)$/;

/** Maps a GetCallerIdentity failure: missing/wrong credentials → UsageError (exit 2) saying what to do; else as awsError. */
export function credentialError(err: unknown): Error {
  const mapped = awsError('STS GetCallerIdentity', err);
  const code = mapped instanceof ExternalError ? mapped.code : undefined;
  const noCredentials = (code !== undefined && /^(CredentialsProviderError|ProviderError|TokenProviderError)$/.test(code)) || /\(no AWS credentials:/.test(mapped.message);
  if (noCredentials) {
    return new UsageError(`no AWS credentials found (${(err as Error).message}): ${HOW}. Nothing was created`);
  }
  if (code !== undefined && BAD_CREDENTIALS.test(code)) {
    return new UsageError(`AWS refused the credentials (${code}: ${(err as Error).message}): they are wrong or expired; ${HOW}. Nothing was created`);
  }
  return mapped;
}

export async function callerIdentity(region: string): Promise<CallerIdentity> {
  const sts = new STSClient({ region });
  try {
    const r = await sts.send(new GetCallerIdentityCommand({}));
    return { account: r.Account ?? '(unknown)', arn: r.Arn ?? '(unknown)' };
  } catch (e) {
    throw credentialError(e);
  } finally {
    sts.destroy();
  }
}
