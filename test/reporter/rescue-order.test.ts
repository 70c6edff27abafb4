import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { usageEventClaims } from "../../src/db/schema/usage-event-claims.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { claim } from "../../src/outbox/claim.ts";
import { backends, freshDatabase } from "../support/db.ts";

describe.each(backends)("claim order on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("an event whose worker died (lease expired, unsettled) is claimed ahead of an older backlog", async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    // A backlog due an hour ago, and one event a killed worker held: it was a retry, due later
    // than the whole backlog, and its lease ran out a second ago.
    await database.db.insert(usageEvents).values(
      Array.from({ length: 50 }, (_, i) => ({
        id: `backlog-${i}`,
        customerKey: "c",
        eventName: "m",
        value: 1,
        occurredAt: hourAgo,
        nextAttemptAt: hourAgo,
      })),
    );
    await database.db.insert(usageEvents).values({
      id: "orphan",
      customerKey: "c",
      eventName: "m",
      value: 1,
      occurredAt: hourAgo,
      nextAttemptAt: sql`now() - interval '2 seconds'`,
      leaseOwner: "killed-worker",
      leaseExpiresAt: sql`now() - interval '1 second'`,
      claims: 1,
    });
    // Its claim's row, where the rescue looks for expired leases.
    await database.db.insert(usageEventClaims).values({
      owner: "killed-worker",
      expiresAt: sql`now() - interval '1 second'`,
      eventIds: ["orphan"],
    });
    const { events } = await claim(database.db, { owner: "rescuer", leaseMs: 10_000, limit: 10 });
    expect(events).toHaveLength(10);
    expect(events[0]?.id).toBe("orphan");
  });

  it("an event leased by a live worker (lease not expired) is never claimed", async () => {
    await database.db.insert(usageEvents).values({
      id: "held",
      customerKey: "c",
      eventName: "m",
      value: 1,
      occurredAt: new Date(),
      nextAttemptAt: sql`now() - interval '1 hour'`,
      leaseOwner: "live-worker",
      leaseExpiresAt: sql`now() + interval '1 minute'`,
    });
    const { events } = await claim(database.db, { owner: "other", leaseMs: 10_000, limit: 100 });
    expect(events.map((e) => e.id)).not.toContain("held");
  });
});
