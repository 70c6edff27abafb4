import { z } from "zod";
import type { Clock } from "./clock.ts";

/** Which rate-limit bucket a request counts toward. */
export type RateClass = "meter_events" | "meter_event_stream" | "general";

const perSecond = z.number().int("must be a whole number").min(1, "must be ≥ 1");

/**
 * Rate-limit settings. `mode`: `off` (the default: tests and `npm start` never trip), `live`
 * or `test` (every request limited as that mode), `auto` (by the key: sk_live_ → live).
 * Limits are per second; unset ones take Stripe's documented figures.
 */
export const rateLimitsSchema = z
  .object({
    mode: z.enum(["off", "test", "live", "auto"]),
    /** Live: all requests except meter events and the stream (Stripe: 100 operations/s). */
    general: perSecond.optional(),
    /** Live: one endpoint's requests, outside the usage endpoints (Stripe: "most endpoints 25/s"). */
    perEndpoint: perSecond.optional(),
    /** Live: v1 meter events, separate from the general limit (Stripe: 1,000/s). */
    meterEvents: perSecond.optional(),
    /** Live: v2 stream requests (Stripe: 10,000/s). */
    meterEventStream: perSecond.optional(),
    /** Test mode: everything together, meter events and the stream included (Stripe: 25/s). */
    test: perSecond.optional(),
  })
  .strict();

/** Rate-limit settings, as given to the option, the admin route or `setRateLimits`. */
export type RateLimits = z.infer<typeof rateLimitsSchema>;

/** Stripe's documented limits (stripe-facts.md, "Rate limits"). */
export const STRIPE_LIMITS = {
  general: 100,
  perEndpoint: 25,
  meterEvents: 1000,
  meterEventStream: 10_000,
  test: 25,
} as const;

/**
 * Fixed one-second windows by the emulator clock, per bucket. With a frozen test clock the
 * window never turns, so a test trips a limit deterministically; `POST /_emulator/clock`
 * moves it on. Rejected requests count too, as a retry storm does against Stripe's limiter
 * (*unverified*: Stripe's limiter algorithm is not documented).
 */
export class RateLimiter {
  private settings: RateLimits;
  private window = Number.NaN;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    initial: RateLimits = { mode: "off" },
  ) {
    this.settings = rateLimitsSchema.parse(initial);
  }

  /** Current settings. */
  current(): RateLimits {
    return { ...this.settings };
  }

  /** Replace the settings (validated; throws a ZodError). Counting restarts. */
  configure(settings: unknown): RateLimits {
    this.settings = rateLimitsSchema.parse(settings);
    this.counts.clear();
    return this.current();
  }

  /**
   * Count one request; true when it is over a limit. `live` is the key's mode, used by `auto`;
   * `endpoint` names the route for the per-endpoint limit.
   */
  exceeded(rateClass: RateClass, endpoint: string, live: boolean): boolean {
    const s = this.settings;
    if (s.mode === "off") return false;
    const window = Math.floor(this.clock.now() / 1000);
    if (window !== this.window) {
      this.window = window;
      this.counts.clear();
    }
    const asLive = s.mode === "live" || (s.mode === "auto" && live);
    const mode = asLive ? "live" : "test";
    if (!asLive) return this.hit(`${mode}:all`, s.test ?? STRIPE_LIMITS.test);
    if (rateClass === "meter_events") {
      return this.hit(`${mode}:meter_events`, s.meterEvents ?? STRIPE_LIMITS.meterEvents);
    }
    if (rateClass === "meter_event_stream") {
      return this.hit(`${mode}:stream`, s.meterEventStream ?? STRIPE_LIMITS.meterEventStream);
    }
    const general = this.hit(`${mode}:general`, s.general ?? STRIPE_LIMITS.general);
    const own = this.hit(`${mode}:${endpoint}`, s.perEndpoint ?? STRIPE_LIMITS.perEndpoint);
    return general || own;
  }

  private hit(bucket: string, limit: number): boolean {
    const count = (this.counts.get(bucket) ?? 0) + 1;
    this.counts.set(bucket, count);
    return count > limit;
  }
}
