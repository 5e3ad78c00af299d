import type { ErrorCode } from './types';

/** Codes of the contract plus the SDK's own: `network` (no answer), `protocol` (a bad answer). */
export type SdkErrorCode = ErrorCode | 'network' | 'protocol' | 'closed' | 'session_revoked';

/** Every failure the SDK reports: an HTTP error envelope, a failed `reply`, or its own. */
export class ParleyError extends Error {
  readonly code: SdkErrorCode;
  /** HTTP status (0 when there was no HTTP answer). */
  readonly status: number;
  /** Seconds to wait, from `Retry-After` (429). */
  readonly retryAfter?: number;

  constructor(code: SdkErrorCode, message: string, status = 0, retryAfter?: number) {
    super(message);
    this.name = 'ParleyError';
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }

  /** Worth trying again later with the same request (idempotent sends in particular). */
  get retriable(): boolean {
    return (
      this.code === 'network' || this.code === 'rate_limited' || this.code === 'unavailable' || this.code === 'internal'
    );
  }

  /** The credentials are no good any more: sign in again. */
  get isAuth(): boolean {
    return this.code === 'unauthorized' || this.code === 'session_revoked';
  }
}
