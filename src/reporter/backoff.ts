/** The bounds of the backoff curve. */
export interface BackoffBounds {
  /** Ceiling of the first step. */
  baseMs: number;
  /** No wait is ever longer than this. */
  maxMs: number;
}

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(maxMs, baseMs · 2^attempt)].
 * Full jitter (not "half" or "equal") spreads the retries of many events that failed together,
 * e.g. after a Stripe incident, so they do not come back as one burst.
 */
export function backoffMs(
  attempt: number,
  { baseMs, maxMs }: BackoffBounds,
  random: () => number = Math.random,
): number {
  // 2^attempt overflows to Infinity past 1023; Math.min copes, but keep the exponent sane anyway.
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 60);
  const cap = Math.max(0, Math.min(maxMs, baseMs * 2 ** exponent));
  // random() is [0, 1); clamp in case an injected one is not.
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * cap);
}
