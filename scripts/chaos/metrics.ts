/**
 * The timing figures of a run, computed after it from the database's timestamps: drain time,
 * throughput, and how long the events a SIGKILLed worker held waited. Pure.
 */

/** A span of time, ms since epoch. */
export interface Interval {
  /** Start, ms since epoch. */
  fromMs: number;
  /** End, ms since epoch. */
  toMs: number;
}

/** How fast a phase went. */
export interface PhaseThroughput {
  /** Events of the phase that reached a final state. */
  finished: number;
  /** From the phase's start to its last event's final state; null when none finished. */
  drainMs: number | null;
  /** finished / drain time, in events per second. */
  overallPerSec: number | null;
  /**
   * Events per second while the queue was busy: 80 % of the phase's events divided by the time
   * between the moments 10 % and 90 % of them were final, minus the time the key was revoked
   * inside that span. Leaves out the start-up ramp, the drain tail and the revocation, so
   * the two phases compare fairly.
   */
  steadyPerSec: number | null;
  /** The span `steadyPerSec` is measured over, and how much of it was excluded. */
  steadySpan: (Interval & { excludedMs: number }) | null;
}

/** Throughput of one phase from the final-state times (reported_at or failed_at) of its events. */
export function phaseThroughput(
  finalTimesMs: readonly number[],
  startMs: number,
  excluded: readonly Interval[],
): PhaseThroughput {
  const times = [...finalTimesMs].sort((a, b) => a - b);
  const last = times[times.length - 1];
  if (last === undefined) {
    return {
      finished: 0,
      drainMs: null,
      overallPerSec: null,
      steadyPerSec: null,
      steadySpan: null,
    };
  }
  const drainMs = Math.max(1, last - startMs);
  const overallPerSec = (times.length / drainMs) * 1000;
  const lo = times[Math.floor(times.length * 0.1)];
  const hi = times[Math.max(0, Math.ceil(times.length * 0.9) - 1)];
  if (lo === undefined || hi === undefined || hi <= lo || times.length < 20) {
    return { finished: times.length, drainMs, overallPerSec, steadyPerSec: null, steadySpan: null };
  }
  const excludedMs = excluded.reduce((sum, x) => sum + overlap(x, { fromMs: lo, toMs: hi }), 0);
  const spanMs = Math.max(1, hi - lo - excludedMs);
  const inside = times.filter((t) => t >= lo && t <= hi).length;
  return {
    finished: times.length,
    drainMs,
    overallPerSec,
    steadyPerSec: (inside / spanMs) * 1000,
    steadySpan: { fromMs: lo, toMs: hi, excludedMs },
  };
}

function overlap(a: Interval, b: Interval): number {
  return Math.max(0, Math.min(a.toMs, b.toMs) - Math.max(a.fromMs, b.fromMs));
}

/** One event a killed worker held, and what became of it (ms since epoch). */
export interface HeldEvent {
  /** The event's id. */
  id: string;
  /** Start of the first send recorded after the kill (by whichever worker rescued it). */
  resentAtMs: number | null;
  /** reported_at, or failed_at for an event that ended failed. */
  finalAtMs: number | null;
}

/** One kill and the fate of the events its worker held a live lease on. */
export interface KillOutcome {
  /** The killed worker. */
  workerId: string;
  /** When it was killed, ms since epoch. */
  atMs: number;
  /** The events it held a live lease on. */
  held: HeldEvent[];
  /** Whether the Stripe key was revoked at some point between the kill and its last rescue. */
  duringRevoke: boolean;
}

/** How the SIGKILLed workers' events fared. */
export interface RescueStats {
  /** Kills done. */
  kills: number;
  /** Kills whose worker held at least one live lease. */
  killsHolding: number;
  /** Events held at kill time, over all kills. */
  held: number;
  /** Held events that never reached a final state (also reported as lost). */
  neverFinal: number;
  /** Longest and median time from a kill to the final state of an event it held. */
  maxUntilFinalMs: number | null;
  medianUntilFinalMs: number | null;
  /** The longest, over kills that did not overlap the key revocation. */
  maxUntilFinalOutsideRevokeMs: number | null;
  /** Longest time from a kill to the first send recorded after it (the rescue itself). */
  maxUntilResentMs: number | null;
  /**
   * The same over the plain case: events held at one kill only, outside the revocation. These
   * are back once the lease expires, so this is what "within lease + poll" is measured on.
   */
  maxUntilResentOnceMs: number | null;
  /** Events held at two or more kills: the reporter treats them as crash suspects. */
  heldRepeatedly: number;
  /** Longest time from the last kill that held one of those to its final state. */
  maxUntilFinalRepeatedlyMs: number | null;
  /** The event behind `maxUntilFinalMs`. */
  slowest: { workerId: string; eventId: string; killAtMs: number; kills: number } | null;
}

/** Summarizes the kills: how long what a dead worker held waited before it was final again. */
export function rescueStats(kills: readonly KillOutcome[]): RescueStats {
  const timesHeld = new Map<string, number>();
  const lastKill = new Map<string, number>();
  for (const kill of kills) {
    for (const e of kill.held) {
      timesHeld.set(e.id, (timesHeld.get(e.id) ?? 0) + 1);
      lastKill.set(e.id, Math.max(lastKill.get(e.id) ?? 0, kill.atMs));
    }
  }
  const untilFinal: number[] = [];
  const outsideRevoke: number[] = [];
  const untilResent: number[] = [];
  const resentOnce: number[] = [];
  const repeatedly: number[] = [];
  let neverFinal = 0;
  let slowest: RescueStats["slowest"] = null;
  let slowestMs = -1;
  for (const kill of kills) {
    for (const e of kill.held) {
      const once = timesHeld.get(e.id) === 1;
      if (e.resentAtMs !== null) {
        const resent = Math.max(0, e.resentAtMs - kill.atMs);
        untilResent.push(resent);
        if (once && !kill.duringRevoke) resentOnce.push(resent);
      }
      if (e.finalAtMs === null) {
        neverFinal++;
        continue;
      }
      // A settle already on its way to Postgres can commit just after the kill: never negative.
      const waited = Math.max(0, e.finalAtMs - kill.atMs);
      untilFinal.push(waited);
      if (!kill.duringRevoke) outsideRevoke.push(waited);
      if (!once && lastKill.get(e.id) === kill.atMs) repeatedly.push(waited);
      if (waited > slowestMs) {
        slowestMs = waited;
        const times = timesHeld.get(e.id) ?? 1;
        slowest = { workerId: kill.workerId, eventId: e.id, killAtMs: kill.atMs, kills: times };
      }
    }
  }
  return {
    kills: kills.length,
    killsHolding: kills.filter((k) => k.held.length > 0).length,
    held: kills.reduce((n, k) => n + k.held.length, 0),
    neverFinal,
    maxUntilFinalMs: max(untilFinal),
    medianUntilFinalMs: median(untilFinal),
    maxUntilFinalOutsideRevokeMs: max(outsideRevoke),
    maxUntilResentMs: max(untilResent),
    maxUntilResentOnceMs: max(resentOnce),
    heldRepeatedly: [...timesHeld.values()].filter((n) => n > 1).length,
    maxUntilFinalRepeatedlyMs: max(repeatedly),
    slowest,
  };
}

function max(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => Math.max(a, b));
}

function median(values: number[]): number | null {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? null : (sorted[Math.floor(sorted.length / 2)] ?? null);
}
