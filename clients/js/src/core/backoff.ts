/** Reconnection delays: exponential backoff from the seed's `reconnectDelay`, with jitter. */

export interface BackoffOptions {
  /** Upper bound of any delay, in ms (default 30 s). */
  max?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Spread around the nominal delay, 0..1 (default 0.3: ±30 %). */
  jitter?: number;
  /** Source of randomness in [0, 1) (tests pass their own). */
  random?: () => number;
}

/**
 * The delay before reconnection attempt `attempt` (0 for the first): `base · factor^attempt`,
 * capped at `max`, then spread by ±`jitter` so that many clients cut off together by a
 * server restart do not all come back in the same millisecond.
 */
export function backoffDelay(attempt: number, base: number, options: BackoffOptions = {}): number {
  const { max = 30_000, factor = 2, jitter = 0.3, random = Math.random } = options;
  const safeBase = Math.max(0, base);
  const nominal = Math.min(max, safeBase * factor ** Math.max(0, attempt));
  const spread = Math.min(1, Math.max(0, jitter));
  const delay = nominal * (1 + spread * (2 * random() - 1));
  return Math.round(Math.min(max, Math.max(0, delay)));
}
