/** Stripe's documented limits for v1 meter events, per second (stripe-facts.md, "Rate limits"). */
export const STRIPE_RATE = { live: 1000, test: 25 } as const;

/** Where the reporter's Stripe requests go, as far as the limit depends on it. */
export interface RateTarget {
  /** The secret or restricted key: its prefix says live or test mode. */
  secretKey: string;
  /** True for an emulator (the bundled one, or any STRIPE_API_BASE), false for Stripe itself. */
  emulator: boolean;
  /** METERLINE_RATE_LIMIT, when set: wins over everything. */
  configured: number | null;
}

/**
 * Requests per second the reporter allows itself, or null for no limit. By Stripe mode from
 * the key prefix (sk_live_/rk_live_ → 1,000/s, sk_test_/rk_test_ → 25/s). An emulator gets no
 * limit unless configured: its key is a test key (sk_test_emulator), and 25/s would make
 * `npm start`, the demo, the tests and the benchmarks crawl; the emulator only rate-limits
 * when told to, and a 429 still slows the worker down.
 */
export function rateFor(target: RateTarget): number | null {
  if (target.configured !== null) return target.configured;
  if (target.emulator) return null;
  return /^(sk|rk)_live_/.test(target.secretKey) ? STRIPE_RATE.live : STRIPE_RATE.test;
}

/** How the limiter moves its rate. */
export interface AimdSettings {
  /** The ceiling: the configured or documented rate, per second. */
  maxPerSec: number;
  /** The floor a run of 429s cannot go below. */
  minPerSec: number;
  /** Additive increase: per second without a 429, the rate grows by this much. */
  increasePerSec: number;
  /** A 429 within this long of the last decrease is the same signal (requests already sent). */
  cooldownMs: number;
}

/** AIMD defaults for a ceiling: back to full speed ~20 s after a halving, 1 s per signal. */
export function aimdFor(maxPerSec: number): AimdSettings {
  return {
    maxPerSec,
    minPerSec: Math.max(1, maxPerSec / 100),
    increasePerSec: maxPerSec / 20,
    cooldownMs: 1000,
  };
}

/**
 * A token bucket whose rate follows additive-increase/multiplicative-decrease: a 429 halves
 * it, then it climbs back linearly. Shared by every send slot of one process. The rate is the
 * ACCOUNT's: with N live workers (the workers table) each process sends 1/N of it, so together
 * they stay under Stripe's limit. Pure: time is passed in as ms.
 */
export class AimdLimiter {
  private base: number;
  /** Live workers sharing the account's rate; this process sends 1/share of it. */
  private share = 1;
  private changedAt: number;
  private tokens = 1;
  private filledAt: number;

  constructor(
    private readonly s: AimdSettings,
    now: number,
  ) {
    this.base = s.maxPerSec;
    this.changedAt = now;
    this.filledAt = now;
  }

  /** The rate in force at `now`: the last decrease plus the linear climb since, capped. */
  rate(now: number): number {
    const climbed = this.base + (this.s.increasePerSec * Math.max(0, now - this.changedAt)) / 1000;
    return Math.min(this.s.maxPerSec, climbed);
  }

  /** Sets how many live workers share the account's rate (at least 1). */
  setShare(workers: number): void {
    this.share = Math.max(1, Math.floor(workers));
  }

  /** The rate this process may send at: its share of the account's. */
  processRate(now: number): number {
    return this.rate(now) / this.share;
  }

  /** Takes a token and returns 0, or returns how many ms until one is available. */
  take(now: number): number {
    const rate = this.processRate(now);
    // At most one second of burst: a paused worker does not come back with a flood.
    const capacity = Math.max(1, rate);
    this.tokens = Math.min(
      capacity,
      this.tokens + (rate * Math.max(0, now - this.filledAt)) / 1000,
    );
    this.filledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / rate);
  }

  /** A 429: halve the rate (once per cooldown: a burst of 429s is one signal). */
  throttled(now: number): void {
    if (now - this.changedAt < this.s.cooldownMs && this.base < this.s.maxPerSec) return;
    this.base = Math.max(this.s.minPerSec, this.rate(now) / 2);
    this.changedAt = now;
  }
}

/** Waits until the limiter gives a token (at once without a limiter). */
export async function waitForToken(limiter: AimdLimiter | null | undefined): Promise<void> {
  if (!limiter) return;
  for (;;) {
    const ms = limiter.take(Date.now());
    if (ms <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
