import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { usageEventAttempts } from "../../src/db/schema/usage-event-attempts.ts";
import { usageEventClaims } from "../../src/db/schema/usage-event-claims.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { claim, suspectDue } from "../../src/outbox/claim.ts";
import { settle } from "../../src/outbox/settle.ts";
import { delivered } from "../reporter/fixtures.ts";
import { insertEvents } from "../reporter/seed.ts";
import { backends, freshDatabase } from "../support/db.ts";

/**
 * Claim rows (usage_event_claims): how the rescue finds expired leases now that no index of
 * usage_events names the lease. Every claim writes one; the rescue reads those whose lease time
 * has passed, and removes them once none of their events is leased to their owner.
 */
describe.each(backends)("claim rows on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(() => database?.close());
  beforeEach(async () => {
    await database.db.delete(usageEvents);
    await database.db.delete(usageEventAttempts);
    await database.db.delete(usageEventClaims);
    await insertEvents(
      database.db,
      // Due in this order, a minute ago.
      ["a", "b", "c"].map((id, i) => ({
        id,
        customerKey: "acme",
        eventName: "api_calls",
        value: 1,
        occurredAt: new Date(),
        nextAttemptAt: new Date(Date.now() - 60_000 + i),
      })),
    );
  });

  const claimRows = () =>
    rows<{ owner: string; ids: string[] }>(
      database.db,
      sql`select owner, event_ids as ids from usage_event_claims order by id`,
    );
  /** The lease time of every claim row has passed (as if lease ms went by). */
  const claimsLapse = () =>
    database.db.execute(sql`update usage_event_claims set expires_at = now() - interval '1 ms'`);
  /** Event `id`'s lease ran out: its worker stopped renewing it. */
  const leaseLapses = (id: string) =>
    database.db.execute(
      sql`update usage_events set lease_expires_at = now() - interval '1 ms' where id = ${id}`,
    );

  it("a claim writes one row; the rescue takes only expired leases and removes finished rows", async () => {
    const { events } = await claim(database.db, { owner: "w1", leaseMs: 60_000, limit: 10 });
    expect(await claimRows()).toEqual([{ owner: "w1", ids: ["a", "b", "c"] }]);

    // Two settled, one still held (its lease renewed): the row's time passing changes nothing.
    const [a, b] = events;
    if (!a || !b) throw new Error("claimed fewer than 3");
    expect(await settle(database.db, "w1", [delivered(a), delivered(b)])).toEqual(
      new Set(["a", "b"]),
    );
    await claimsLapse();
    expect((await claim(database.db, { owner: "w2", leaseMs: 60_000, limit: 10 })).events).toEqual(
      [],
    );
    expect(await claimRows()).toEqual([{ owner: "w1", ids: ["a", "b", "c"] }]);

    // Its worker stopped: the rescue takes it, in a claim row of its own; w1's row is finished,
    // and the next rescue removes it (a statement does not see its own rescues).
    await leaseLapses("c");
    const rescued = await claim(database.db, { owner: "w2", leaseMs: 60_000, limit: 10 });
    expect(rescued.events.map((e) => [e.id, e.openClaims])).toEqual([["c", 2]]);
    expect(await claimRows()).toEqual([
      { owner: "w1", ids: ["a", "b", "c"] },
      { owner: "w2", ids: ["c"] },
    ]);
    await claim(database.db, { owner: "w3", leaseMs: 60_000, limit: 10 });
    expect(await claimRows()).toEqual([{ owner: "w2", ids: ["c"] }]);

    // Settled by its rescuer: once its lease time passes, nothing is left of the claims.
    const [c] = rescued.events;
    if (!c) throw new Error("nothing rescued");
    expect(await settle(database.db, "w2", [delivered(c)])).toEqual(new Set(["c"]));
    await claimsLapse();
    await claim(database.db, { owner: "w3", leaseMs: 60_000, limit: 10 });
    expect(await claimRows()).toEqual([]);
  });

  it("a suspect (its lease lost twice) is seen, rescued alone by a suspect claim, never by a healthy one", async () => {
    await claim(database.db, { owner: "w1", leaseMs: 60_000, limit: 1 });
    await claimsLapse();
    await leaseLapses("a");
    // Once lost: an ordinary rescue (with the queue's next two).
    const first = await claim(database.db, { owner: "w2", leaseMs: 60_000, limit: 3 });
    expect(first.events.map((e) => e.id)).toEqual(["a", "b", "c"]);
    expect(await suspectDue(database.db)).toBe(false);
    // Lost again: a suspect.
    await claimsLapse();
    await leaseLapses("a");
    expect(await suspectDue(database.db)).toBe(true);
    expect((await claim(database.db, { owner: "w3", leaseMs: 60_000, limit: 3 })).events).toEqual(
      [],
    );
    const alone = await claim(database.db, {
      owner: "w4",
      leaseMs: 60_000,
      limit: 1,
      suspects: true,
    });
    expect(alone.events.map((e) => [e.id, e.openClaims])).toEqual([["a", 3]]);
    expect(await suspectDue(database.db)).toBe(false);
  });
});
