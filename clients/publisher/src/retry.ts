/** When to try a request again, and after how long. */

/** The longest wait between two attempts, whatever `Retry-After` asks. */
export const MAX_RETRY_DELAY_MS = 30_000;

/** ± this fraction of randomness on a computed wait, so that publishers do not retry in step. */
const JITTER = 0.3;

/** Statuses worth another attempt: overload (429, 503) and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * The wait before retry number `attempt` (0 for the first retry): the server's `Retry-After`
 * when it gave one, else `backoffMs × 2^attempt` ± 30 %; at most 30 s.
 */
export function retryDelay(
  attempt: number,
  backoffMs: number,
  retryAfterMs: number | null = null,
  random: () => number = Math.random,
): number {
  const delay =
    retryAfterMs !== null ? retryAfterMs : backoffMs * 2 ** attempt * (1 - JITTER + 2 * JITTER * random());
  return Math.min(Math.max(delay, 0), MAX_RETRY_DELAY_MS);
}

/**
 * `Retry-After` in milliseconds: seconds, or an HTTP date (`now` in ms since the epoch);
 * `null` when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  // An HTTP date starts with its day name; Date.parse alone takes "-1" for a year.
  if (!/^[a-z]{3,9},?\s/i.test(text)) return null;
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : when - now;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  // Not unref'd: a process whose last work is a retry waits for it rather than losing it.
  return new Promise((resolve) => setTimeout(resolve, ms));
}
