/**
 * The emulator's only source of "now". Everything time-based (created, the timestamp window,
 * the dedup window) reads it, so a later controllable clock is a drop-in replacement.
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
