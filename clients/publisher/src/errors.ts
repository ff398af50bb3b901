/**
 * Errors a publish rejects with:
 *
 *     TocsinApiError       Tocsin refused it (4xx), or still failed (5xx, 429) after the retries
 *     TocsinNetworkError   Tocsin could not be reached or did not answer in time, after the retries
 *     TypeError            the call lacks what it needs (e.g. `emitToUser` without a tenant)
 */

/** Tocsin answered with an error: `status` (HTTP), `code`, `message`, `field`. */
export class TocsinApiError extends Error {
  override name = "TocsinApiError";

  constructor(
    readonly status: number,
    /** The `error` of Tocsin's JSON body (`validation_error`, `forbidden`…), else `http_<status>`. */
    readonly code: string,
    message: string,
    /** The field at fault, when Tocsin named one (`timestamp`, `Idempotency-Key`…). */
    readonly field: string | null = null,
    /** The JSON body as received, for its other members (`details`, `reason`…). */
    readonly body: unknown = undefined,
  ) {
    super(message);
  }

  override toString(): string {
    const where = this.field ? ` (${this.field})` : "";
    return `${this.name}: ${this.status} ${this.code}: ${this.message}${where}`;
  }
}

/** No answer from Tocsin: connection refused, reset, timed out (the cause says which). */
export class TocsinNetworkError extends Error {
  override name = "TocsinNetworkError";

  constructor(
    readonly url: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(`no answer from ${url} after ${attempts} attempt(s): ${describe(options.cause)}`, options);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch says only "fetch failed"; the reason (ECONNREFUSED…) is in its cause.
  const cause = (error as { cause?: unknown }).cause;
  const code = cause && typeof cause === "object" && "code" in cause ? ` (${String(cause.code)})` : "";
  return `${error.name}: ${error.message}${code}`;
}
