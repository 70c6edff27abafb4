/**
 * The emulator's only source of "now". Everything time-based (created, the timestamp window,
 * the dedup window, idempotency, sessions, adjustments, billing periods) reads it, so moving
 * the clock moves every rule at once.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** Unix seconds of the clock's reading: the unit of Stripe's `created` and `timestamp`. */
export function unixSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}

/** RFC 3339 text of a clock reading in milliseconds, as v2 objects carry times. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A clock that runs at the speed of a base clock (the wall clock, or a test's manual clock)
 * plus an offset the admin route moves: tests cross 15 minutes or 35 days in one call.
 */
export class AdjustableClock implements Clock {
  private offsetMs = 0;

  constructor(private readonly base: Clock) {}

  /** Base reading plus the offset. */
  now(): number {
    return this.base.now() + this.offsetMs;
  }

  /** Move forward (or back, with a negative number) by whole seconds. */
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }

  /** Jump to a Unix time in seconds; the clock keeps running from there. */
  set(unix: number): void {
    this.offsetMs = unix * 1000 - this.base.now();
  }
}
