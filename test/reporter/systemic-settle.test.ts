import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { openCircuit } from "../../src/outbox/circuits.ts";
import { claim } from "../../src/outbox/claim.ts";
import { settle } from "../../src/outbox/settle.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { insertEvents } from "./seed.ts";

describe.each(backends)(
  "a dead letter judged poison while its rejection is systemic, on %s",
  (kind) => {
    it("is written pending behind the open circuit, uncharged: a worker's late settle cannot outrun the revert", async () => {
      const database = await freshDatabase(kind);
      try {
        const { db } = database;
        await insertEvents(db, [
          { id: "late", customerKey: "acme", eventName: "calls", value: 1, occurredAt: new Date() },
        ]);
        const [e] = (await claim(db, { owner: "w2", leaseMs: 60_000, limit: 1 })).events;
        if (!e) throw new Error("nothing claimed");
        // Another worker judged the rejection systemic and opened its circuit (then took back the
        // window's dead letters); this worker's poison verdict on the same rejection lands after.
        await openCircuit(db, {
          scope: "systemic:parameter_invalid_integer",
          reason: "storm",
          owner: "w1",
          probeMs: 60_000,
        });
        const now = new Date();
        const settled = await settle(db, "w2", [
          {
            id: e.id,
            attempts: e.attempts,
            claims: e.claims,
            status: "failed",
            counted: true,
            delayMs: 0,
            waitReason: null,
            error: {
              code: "parameter_invalid_integer",
              message: "Stripe refused the event",
              httpStatus: 400,
              requestId: "req_1",
            },
            stripeRequestId: null,
            firstAmbiguousAt: null,
            sentAt: now,
            attempt: {
              outcome: "rejected",
              httpStatus: 400,
              stripeCode: "parameter_invalid_integer",
              requestId: "req_1",
              message: "m",
              startedAt: now,
            },
          },
        ]);
        expect([...settled]).toEqual(["late"]);
        const [row] = await rows<{
          status: string;
          wait_reason: string;
          attempts: number;
          outcome: string;
        }>(
          db,
          sql`select e.status, e.wait_reason, e.attempts, a.outcome from usage_events e
            join usage_event_attempts a on a.event_id = e.id where e.id = 'late'`,
        );
        expect(row).toEqual({
          status: "pending",
          wait_reason: "systemic_halt",
          attempts: 0,
          outcome: "systemic_reverted",
        });
      } finally {
        await database.close();
      }
    });
  },
);
