import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { claim } from "../../src/outbox/claim.ts";
import { SentMarker } from "../../src/reporter/sent-marker.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { insertEvents } from "./seed.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Marks asked for 10 ms apart, as a limiter lets v1 requests out one by one. Returns how many
 * statements wrote them: rows updated by one statement share its transaction id (xmin).
 */
async function markApart(kind: (typeof backends)[number], lingerMs: number): Promise<number> {
  const database = await freshDatabase(kind);
  try {
    const { db } = database;
    const ids = ["e1", "e2", "e3"];
    await insertEvents(
      db,
      ids.map((id) => ({
        id,
        customerKey: `c-${id}`,
        eventName: "api_calls",
        value: 1,
        occurredAt: new Date(Date.now() - 60_000),
      })),
    );
    const { events } = await claim(db, { owner: "w", leaseMs: 60_000, limit: 10 });
    const marker = new SentMarker(db, "w", lingerMs);
    const marks: Promise<Map<string, Date>>[] = [];
    for (const e of events) {
      marks.push(marker.mark([{ id: e.id, claims: e.claims }]));
      await sleep(10);
    }
    const answers = await Promise.all(marks);
    // Every request learns its own event was marked, whichever statement wrote it.
    expect(answers.map((marked, i) => marked.has(events[i]?.id ?? ""))).toEqual([true, true, true]);
    const written = await rows<{ tx: string }>(
      db,
      sql`select distinct xmin::text as tx from usage_events where first_sent_at is not null`,
    );
    expect(
      (
        await rows<{ n: number }>(
          db,
          sql`select count(*)::int as n from usage_events
        where first_sent_at is not null`,
        )
      )[0]?.n,
    ).toBe(3);
    return written.length;
  } finally {
    await database.close();
  }
}

describe.each(backends)("the first-send marker, on %s", (kind) => {
  it("marks asked for within the linger share one statement (one commit for many requests)", async () => {
    expect(await markApart(kind, 1_000)).toBe(1);
  });

  it("without a linger each mark is written at once, in a statement of its own", async () => {
    expect(await markApart(kind, 0)).toBe(3);
  });
});
