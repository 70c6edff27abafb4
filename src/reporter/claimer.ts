import type { Config } from "../config.ts";
import type { Db } from "../db/connect.ts";
import { type ClaimedEvent, claim } from "../outbox/claim.ts";
import type { SendItem } from "./admit.ts";
import { admitByMode } from "./admit-by-mode.ts";
import { DbClock } from "./db-clock.ts";
import type { HeldLeases } from "./held-leases.ts";
import type { ReporterLogger } from "./logger.ts";
import type { ReporterDeps } from "./reporter-types.ts";
import type { SettleBuffer } from "./settle-buffer.ts";

/**
 * The worker's claiming side: leases batches (outbox/claim.ts), holds them (the heartbeat renews
 * what is held), keeps the database's clock, and pre-flights what it claimed — settling without
 * a call what cannot be sent now, and handing on what can.
 */
export class Claimer {
  /** The database's clock, read by every claim: we judge time as the leases do. */
  private readonly clock = new DbClock();
  /** When this worker last looked for expired leases (our clock). */
  private lastRescueAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly d: {
      db: Db;
      owner: string;
      settings: Config["worker"];
      sinkFor: ReporterDeps["sinkFor"];
      held: HeldLeases;
      buffer: SettleBuffer;
      logger: ReporterLogger;
    },
  ) {}

  /** Now, by the database's clock as the claims have read it. */
  now(): Date {
    return this.clock.at(Date.now());
  }

  /** Leases up to `limit` due events (suspects only, when asked) and holds them. */
  async claim(limit: number, suspects = false): Promise<ClaimedEvent[]> {
    const { db, owner, settings, held } = this.d;
    // Before the statement: the lease it sets runs from no earlier than this.
    const at = Date.now();
    // Suspect claims (one event, only while nothing is held) always look; they rescue only
    // suspects, so they leave the healthy rescue's schedule alone.
    const rescue = suspects || rescueDue(this.lastRescueAt, at, settings);
    if (rescue && !suspects) this.lastRescueAt = at;
    const { events, dbNow } = await claim(db, {
      owner,
      leaseMs: settings.leaseMs,
      limit,
      suspects,
      rescue,
    });
    if (dbNow) this.clock.observe(dbNow.getTime(), at, Date.now());
    for (const e of events) held.hold(e, at);
    return events;
  }

  /** Pre-flights a claimed batch: settles what cannot be sent now, returns what can. */
  async prepare(events: ClaimedEvent[]): Promise<SendItem[]> {
    const { db, settings, sinkFor, buffer, logger } = this.d;
    const admitted = await admitByMode(db, events, this.now(), settings, sinkFor);
    for (const f of admitted.failed) {
      logger.warn({ event: f.id, code: f.code }, "dead-lettered by pre-flight");
    }
    for (const row of admitted.settle) buffer.push(row);
    return admitted.send;
  }
}

/**
 * Whether a claim at `now` also looks for expired leases: at most once a poll interval (and a
 * tenth of a lease, for short leases). A worker with a backlog claims many times a second, and
 * the rescue reads the events of every claim whose lease time has passed each time it runs.
 */
export function rescueDue(
  lastAt: number,
  now: number,
  settings: Pick<Config["worker"], "pollMs" | "leaseMs">,
): boolean {
  return now - lastAt >= Math.min(settings.pollMs, settings.leaseMs / 10);
}
