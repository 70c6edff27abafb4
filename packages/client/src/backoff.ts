/** Retry timing: exponential backoff with full jitter, never shorter than a Retry-After. */
export interface BackoffOptions {
  /** The first retry's ceiling, ms. */
  baseMs: number;
  /** No wait longer than this, ms (Retry-After included). */
  maxMs: number;
}

/**
 * How long to wait before attempt `attempt` (1 for the first retry). Full jitter spreads the
 * retries of many producers that failed together; a server's Retry-After is a floor. Pure
 * given `random`.
 */
export function backoffMs(
  attempt: number,
  retryAfterMs: number | null,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = Math.floor(random() * ceiling);
  return Math.min(options.maxMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** A Retry-After header (delta seconds or an HTTP date) as ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
