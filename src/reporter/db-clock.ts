/**
 * How far our clock may drift from the database's, in ms per ms, for judging how much an old
 * reading is still worth: 1 ms a second, far more than any clock NTP keeps, so that a
 * reading goes stale within minutes and a new one, however rough, replaces it.
 */
export const DRIFT_PER_MS = 0.001;

/**
 * Hosts kept by NTP agree within tens of ms: until a reading does better, our own clock is
 * taken to be within this of the database's. A claim's round trip is a few ms, so a worker's
 * first reading replaces it at once; one stalled for seconds does not.
 */
export const PRIOR_BOUND_MS = 100;

/**
 * The database's clock as this worker estimates it (Cristian's method). Each claim reads the
 * database's now() somewhere between sending the statement and reading its answer, so a reading
 * is off by at most half that round trip. A long round trip (a stalled or frozen process, a
 * statement queued behind a lock) says little: taken at face value, a 3 s stall right after the
 * statement put every send of the next seconds 3 s early in its attempt row and in the dedup
 * window's reckoning. So a reading replaces the estimate only when its bound is no worse than
 * the estimate's own, which widens as it ages.
 */
export class DbClock {
  /** Database clock minus ours: none until a reading says otherwise. */
  private offsetMs = 0;
  /** How far off offsetMs may have been when it was read. */
  private boundMs: number;
  /** When it was read (our clock). */
  private readAtMs: number;

  constructor(
    /** Our clock now: the prior's age counts from here. */
    startMs: number = Date.now(),
    /**
     * How far our own clock may be from the database's before any reading. Without one, a
     * new worker took its first reading whatever its round trip, and a worker frozen during its
     * first claim sent that claim's events seconds early by its estimate.
     */
    priorBoundMs: number = PRIOR_BOUND_MS,
  ) {
    this.boundMs = priorBoundMs;
    this.readAtMs = startMs;
  }

  /** A reading: the database said `dbMs` between our `sentMs` and `receivedMs`. */
  observe(dbMs: number, sentMs: number, receivedMs: number): void {
    const bound = (receivedMs - sentMs) / 2;
    const current = this.boundMs + (receivedMs - this.readAtMs) * DRIFT_PER_MS;
    if (bound > current) return;
    this.offsetMs = dbMs - (sentMs + bound);
    this.boundMs = bound;
    this.readAtMs = receivedMs;
  }

  /** Now, by the database's clock, at our clock's `ms`. */
  at(ms: number): Date {
    return new Date(ms + this.offsetMs);
  }
}
