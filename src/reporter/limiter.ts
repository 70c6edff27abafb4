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
 * Requests per second the account allows, or null for no limit. By Stripe mode from the key
 * prefix (sk_live_/rk_live_ → 1,000/s, sk_test_/rk_test_ → 25/s). An emulator gets no limit
 * unless configured: its key is a test key (sk_test_emulator), and 25/s would make `npm start`,
 * the demo, the tests and the benchmarks crawl; the emulator only rate-limits when told to,
 * and a 429 still slows the worker down.
 */
export function rateFor(target: RateTarget): number | null {
  if (target.configured !== null) return target.configured;
  if (target.emulator) return null;
  return /^(sk|rk)_live_/.test(target.secretKey) ? STRIPE_RATE.live : STRIPE_RATE.test;
}

/** How the limiter moves its rate. */
export interface AimdSettings {
  /** The limit: the configured or documented rate, per second. Never reached: see `target`. */
  maxPerSec: number;
  /**
   * What it aims at, per second: just under the limit. Stripe (and the emulator) count in
   * windows whose edges we do not see; a request's arrival jitters by a few ms. Aiming at the
   * limit itself meets it in some windows, and every 429 costs more than the margin.
   */
  target: number;
  /**
   * The bucket holds this many ms of the rate: short bursts only, so no window ever sees more
   * than target + burst. (A second's burst after a pause is what met the limit.)
   */
  burstMs: number;
  /** The floor a run of 429s cannot go below. */
  minPerSec: number;
  /**
   * A lone 429: the rate drops to `decrease` of the rate it met, and climbs back quickly to
   * `ceilingShare` of it: gentle, the limit was only just met.
   */
  decrease: number;
  ceilingShare: number;
  /**
   * Another 429 within `repeatMs` of a decrease: the limit is well below, the ceiling was wrong
   * too: `repeatDecrease` and `repeatCeiling` of the rate met, so a far lower limit is found in
   * a few seconds.
   */
  repeatDecrease: number;
  repeatCeiling: number;
  repeatMs: number;
  /** A 429 within this long of the last decrease is the same signal (requests already sent). */
  cooldownMs: number;
  /** After a decrease the rate climbs back to its ceiling at this many per second... */
  climbPerSec: number;
  /**
   * ...then creeps on by this share of the ceiling per second, up to the target: the limit may
   * have moved back up, or may be just above; one 429 every several seconds at most finds out.
   */
  creepShare: number;
}

/**
 * Defaults for a limit: aim 3 % under it with 20 ms of burst (at 1,000/s: 970/s, bursts of
 * 19, at most 989 in any second); a lone 429 takes 15 % off, and the rate is back 2 % under
 * where it was met within ~3 s, then creeps on at 0.25 %/s; 429s one after the other halve it.
 */
export function aimdFor(maxPerSec: number): AimdSettings {
  const target = maxPerSec * 0.97;
  return {
    maxPerSec,
    target,
    burstMs: 20,
    minPerSec: Math.max(0.1, maxPerSec / 100),
    decrease: 0.85,
    ceilingShare: 0.98,
    repeatDecrease: 0.5,
    repeatCeiling: 0.85,
    repeatMs: 5000,
    cooldownMs: 1000,
    climbPerSec: target / 20,
    creepShare: 0.0025,
  };
}

/**
 * A token bucket whose rate follows additive increase and multiplicative decrease, aimed just
 * under the limit. The rate is the ACCOUNT's: with N live workers (the workers table) each
 * process sends 1/N of it, so together they stay under Stripe's limit. Pure: time is passed in.
 *
 * After a 429 the rate climbs quickly back to just under where the 429 met it, and only creeps
 * beyond: climbing straight back to the top would meet the same limit again, and again.
 */
export class AimdLimiter {
  /** The rate right after the last change, and when that was. */
  private base: number;
  /** Just under the rate the last 429 met (the target before any). */
  private ceiling: number;
  private changedAt: number;
  /** When the last decrease was, for `repeatMs`. */
  private decreasedAt = Number.NEGATIVE_INFINITY;
  /** Live workers sharing the account's rate; this process sends 1/share of it. */
  private share = 1;
  /**
   * The bucket, kept as the time the next request is due at the steady rate (GCRA): a request
   * may go up to `burstMs` ahead of it. Unlike a count of tokens, no fraction of a token is lost
   * to rounding, which at 25/s would cost 2 %.
   */
  private dueAt: number;

  constructor(
    private readonly s: AimdSettings,
    now: number,
  ) {
    this.base = s.target;
    this.ceiling = s.target;
    this.changedAt = now;
    this.dueAt = now;
  }

  /** The account's rate in force at `now`: quick climb to the ceiling, then the creep, capped. */
  rate(now: number): number {
    const s = this.s;
    const dt = Math.max(0, now - this.changedAt) / 1000;
    const climbS = Math.max(0, this.ceiling - this.base) / s.climbPerSec;
    const rate =
      dt <= climbS
        ? this.base + s.climbPerSec * dt
        : Math.max(this.base, this.ceiling) * (1 + s.creepShare * (dt - climbS));
    return Math.max(s.minPerSec, Math.min(s.target, rate));
  }

  /** Sets how many live workers share the account's rate (at least 1). */
  setShare(workers: number): void {
    this.share = Math.max(1, Math.floor(workers));
  }

  /** The rate this process may send at: its share of the account's. */
  processRate(now: number): number {
    return this.rate(now) / this.share;
  }

  /** Ms until a token is available (0: now), taking none. */
  wait(now: number): number {
    const early = this.dueAt - this.tolerance(now) - now;
    return early <= 0 ? 0 : Math.ceil(early);
  }

  /** Takes a token and returns 0, or returns how many ms until one is available. */
  take(now: number): number {
    const wait = this.wait(now);
    if (wait === 0) this.dueAt = Math.max(this.dueAt, now) + this.interval(now);
    return wait;
  }

  /**
   * A 429: lower the rate (more when the last decrease did not stop them), once per cooldown:
   * the rest of a burst already in flight is the same signal. The bucket empties: what it held
   * was sent into the window that said no. True when it decreased.
   */
  throttled(now: number): boolean {
    const s = this.s;
    if (now - this.decreasedAt < s.cooldownMs) return false;
    const met = this.rate(now);
    const repeat = now - this.decreasedAt < s.repeatMs;
    this.base = Math.max(s.minPerSec, met * (repeat ? s.repeatDecrease : s.decrease));
    this.ceiling = Math.max(s.minPerSec, met * (repeat ? s.repeatCeiling : s.ceilingShare));
    this.changedAt = now;
    this.decreasedAt = now;
    // Empty: the next request one interval from now, none of the burst.
    this.dueAt = Math.max(this.dueAt, now + this.interval(now) + this.tolerance(now));
    return true;
  }

  /** Ms between two requests at the process's rate. */
  private interval(now: number): number {
    return 1000 / this.processRate(now);
  }

  /**
   * How far ahead of its due time a request may go: the burst, less the one token itself, and
   * never under the 2 ms a timer may be late by (else every late wake-up would be lost time).
   */
  private tolerance(now: number): number {
    const rate = this.processRate(now);
    const burst = Math.max(1, (rate * this.s.burstMs) / 1000);
    return Math.max(2, ((burst - 1) * 1000) / rate);
  }
}
