import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { asyncRejections } from "../../src/db/schema/async-rejections.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { asyncReject } from "../../src/outbox/async-reject.ts";
import { type SettleRow, settle } from "../../src/outbox/settle.ts";
import { describeOnPostgres, freshDatabase } from "../support/db.ts";
import { heldTransaction, waitsOnLock } from "../support/held-transaction.ts";
import { eventRow } from "./rows.ts";

/** The worker's settle of Stripe's 200 for `id`, claimed once, never attempted before. */
function delivered(id: string): SettleRow {
  const startedAt = new Date();
  return {
    id,
    attempts: 0,
    claims: 1,
    status: "reported",
    counted: true,
    delayMs: 0,
    waitReason: null,
    error: null,
    stripeRequestId: "req_race",
    firstAmbiguousAt: null,
    sentAt: startedAt,
    attempt: {
      outcome: "delivered",
      httpStatus: 200,
      stripeCode: null,
      requestId: "req_race",
      message: "accepted",
      startedAt,
    },
  };
}

/**
 * Billing sync and a worker's settle of the same event at the same moment, interleaved by hand on
 * two connections. Whichever commits first, the event must end failed: a rejection committed a
 * moment after the settle read async_rejections must not leave it reported.
 */
describeOnPostgres("an asynchronous rejection racing the worker's settle", () => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase("postgres");
  });
  afterAll(() => database?.close());

  it("a settle that starts while billing sync holds the event ends failed, not reported", async () => {
    const { db } = database;
    await db.insert(usageEvents).values({
      id: "race-1",
      customerKey: "ghost",
      eventName: "api_requests",
      value: 1,
      occurredAt: new Date(),
      claims: 1,
      openClaims: 1,
      leaseOwner: "worker-a",
      leaseExpiresAt: new Date(Date.now() + 3_600_000),
      firstSentAt: new Date(),
    });

    // Billing sync: records the rejection and applies it (leased or not, it fails the event),
    // then is held open before its commit.
    const billing = await heldTransaction(db, async (tx) => {
      await tx.insert(asyncRejections).values({
        identifier: "race-1",
        code: "meter_event_customer_not_found",
        message: "No such customer: 'cus_never_existed'.",
        stripeEventId: "evt_race",
      });
      return asyncReject(tx, ["race-1"]);
    });

    // The worker settles its 200 meanwhile: it must wait for billing sync, not slip past it.
    const settling = settle(db, "worker-a", [delivered("race-1")]);
    expect(await waitsOnLock(db, settling)).toBe(true);

    billing.commit();
    expect((await billing.committed).failed).toEqual(["race-1"]);
    // The settle found the event no longer pending: nothing settled, its answer kept as audit.
    expect([...(await settling)]).toEqual([]);

    expect(await eventRow(db, "race-1")).toMatchObject({
      status: "failed",
      last_error_code: "meter_event_customer_not_found",
    });
  });
});
