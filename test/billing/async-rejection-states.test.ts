import { beforeAll, describe, expect, it } from "vitest";
import { applyAsyncRejections } from "../../src/billing/apply-async-rejections.ts";
import type { Db } from "../../src/db/connect.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { retryDeadLetters } from "../../src/outbox/dlq-retry.ts";
import { settle } from "../../src/outbox/settle.ts";
import { declareMeter, reporter, testSettings } from "../reporter/harness.ts";
import { waitFor } from "../reporter/seed.ts";
import { backends } from "../support/db.ts";
import { type BillingSuite, billingSuite, flushReports, redeliver } from "./harness.ts";
import { attemptsOf, eventRow, rejectionOf } from "./rows.ts";

/** The meter the events belong to, known to Stripe and to Meterline. */
const METER = "api_requests";
/** A customer Meterline has linked to a Stripe id that Stripe does not know. */
const GHOST = { key: "ghost", stripeId: "cus_never_existed" };
/** Stripe's asynchronous code for that customer. */
const NOT_FOUND = "meter_event_customer_not_found";

type EventInsert = typeof usageEvents.$inferInsert;

/** A time `hours` from now (negative: ago). */
function hoursFromNow(hours: number): Date {
  return new Date(Date.now() + hours * 3_600_000);
}

/** Writes one event of the ghost customer, in the state `state` describes. */
async function insertEvent(db: Db, id: string, state: Partial<EventInsert>): Promise<void> {
  await db.insert(usageEvents).values({
    id,
    customerKey: GHOST.key,
    eventName: METER,
    value: 3,
    occurredAt: new Date(Date.now() - 60_000),
    ...state,
  });
}

/**
 * Sends the event to Stripe as a worker did: Stripe answers 200 and rejects it later (its
 * customer does not exist), in the next error report.
 */
async function sentToStripe(suite: BillingSuite, id: string): Promise<void> {
  await suite.stripe.billing.meterEvents.create({
    event_name: METER,
    payload: { stripe_customer_id: GHOST.stripeId, value: "3" },
    identifier: id,
  });
}

/** Runs the real reporter until `id` is no longer pending. */
async function reportUntilSettled(db: Db, suite: BillingSuite, id: string): Promise<void> {
  const r = reporter(db, suite.stripe, testSettings());
  try {
    await waitFor(`${id} to settle`, async () => (await eventRow(db, id)).status !== "pending");
  } finally {
    await r.stop();
  }
}

/** An operator's `dlq retry` of one event, as the dead-letter route runs it. */
async function operatorRetry(db: Db, id: string): Promise<void> {
  const outcome = await retryDeadLetters(db, {
    target: { ids: [id] },
    dryRun: false,
    limit: 100,
    actor: 'key "ops"',
    dedupWindowMs: 23 * 3_600_000,
    notInStripe: false,
    timestampMarginMs: 60 * 60_000,
  });
  expect(outcome.changed).toEqual([id]);
}

describe.each(backends)(
  "asynchronous rejections win, whatever the event's state, on %s",
  (kind) => {
    const suite = billingSuite(kind);

    beforeAll(async () => {
      const { db } = suite.database;
      await declareMeter(db, suite.stripe, METER);
      await db.insert(customers).values({ key: GHOST.key, stripeCustomerId: GHOST.stripeId });
    });

    it("an asynchronous rejection that arrives while the event is pending is not dropped", async () => {
      const { db } = suite.database;
      // Sent once; the answer was lost (a timeout), so it waits for a resend, not leased.
      await insertEvent(db, "pend-1", {
        attempts: 1,
        claims: 1,
        firstSentAt: new Date(),
        waitReason: "retry",
        lastErrorCode: "timeout",
      });
      await sentToStripe(suite, "pend-1");

      const [thin] = await flushReports(suite);

      const event = await eventRow(db, "pend-1");
      expect(event).toMatchObject({
        status: "failed",
        last_error_code: NOT_FOUND,
        lease_owner: null,
        wait_reason: null,
        failed: true,
      });
      // What a person does: not a retry (the identifier is taken), a corrected event with a new id.
      expect(event.last_error_message).toMatch(/rejected it in asynchronous validation/);
      expect(event.last_error_message).toMatch(/new id/);
      expect(await attemptsOf(db, "pend-1")).toEqual([
        expect.objectContaining({
          outcome: "async_rejected",
          worker: "stripe",
          stripe_code: NOT_FOUND,
        }),
      ]);
      expect(await rejectionOf(db, "pend-1")).toEqual({ code: NOT_FOUND, stripe_event_id: thin });
    });

    it("an operator retry of an unfixed rejection is answered 'already exists' and ends failed, not reported", async () => {
      const { db } = suite.database;
      await insertEvent(db, "retry-1", { status: "reported", attempts: 1, claims: 1 });
      await sentToStripe(suite, "retry-1");
      await flushReports(suite);
      expect((await eventRow(db, "retry-1")).status).toBe("failed");

      await operatorRetry(db, "retry-1");
      await reportUntilSettled(db, suite, "retry-1");

      expect(await eventRow(db, "retry-1")).toMatchObject({
        status: "failed",
        last_error_code: NOT_FOUND,
      });
      // The resend reached Stripe, which answered "already exists"; the settle overruled it.
      const last = (await attemptsOf(db, "retry-1")).at(-1);
      expect(last).toMatchObject({ outcome: "async_rejected", worker: "worker-test" });
      expect(last?.message).toMatch(/already rejected this identifier/);
      // Stripe never counted it.
      expect(suite.emulator.ledger().events.find((e) => e.identifier === "retry-1")?.counted).toBe(
        false,
      );
    });

    it("a leased event fails at once; its worker's settle of the 200 changes nothing and is kept as lease_lost", async () => {
      const { db } = suite.database;
      // A worker holds it and has sent it; Stripe's error report arrives before its settle.
      await insertEvent(db, "leased-1", {
        claims: 1,
        openClaims: 1,
        leaseOwner: "worker-a",
        leaseExpiresAt: hoursFromNow(1),
        firstSentAt: new Date(),
      });
      await sentToStripe(suite, "leased-1");

      const [thin] = await flushReports(suite);

      expect(await eventRow(db, "leased-1")).toMatchObject({
        status: "failed",
        last_error_code: NOT_FOUND,
        lease_owner: null,
      });
      expect((await attemptsOf(db, "leased-1")).map((a) => a.outcome)).toEqual(["async_rejected"]);
      expect(await rejectionOf(db, "leased-1")).toEqual({ code: NOT_FOUND, stripe_event_id: thin });

      // The worker settles Stripe's 200 as delivered: too late, the event is no longer pending.
      const startedAt = new Date();
      const settled = await settle(db, "worker-a", [
        {
          id: "leased-1",
          attempts: 0,
          claims: 1,
          status: "reported",
          counted: true,
          delayMs: 0,
          waitReason: null,
          error: null,
          stripeRequestId: "req_leased_1",
          firstAmbiguousAt: null,
          sentAt: startedAt,
          attempt: {
            outcome: "delivered",
            httpStatus: 200,
            stripeCode: null,
            requestId: "req_leased_1",
            message: "accepted",
            startedAt,
          },
        },
      ]);
      expect([...settled]).toEqual([]);
      expect(await eventRow(db, "leased-1")).toMatchObject({
        status: "failed",
        last_error_code: NOT_FOUND,
        lease_owner: null,
      });
      expect((await attemptsOf(db, "leased-1")).map((a) => a.outcome)).toEqual([
        "async_rejected",
        "lease_lost",
      ]);
    });

    it("a failed event keeps its own reason, and trace shows Stripe's; a discarded one is left alone", async () => {
      const { db } = suite.database;
      await insertEvent(db, "dead-1", {
        status: "failed",
        attempts: 8,
        claims: 8,
        lastErrorCode: "retries_exhausted",
        failedAt: hoursFromNow(-1),
      });
      await insertEvent(db, "gone-1", {
        status: "discarded",
        attempts: 1,
        claims: 1,
        lastErrorCode: "timeout",
        failedAt: hoursFromNow(-1),
      });
      await sentToStripe(suite, "dead-1");
      await sentToStripe(suite, "gone-1");

      await flushReports(suite);

      expect(await eventRow(db, "dead-1")).toMatchObject({
        status: "failed",
        last_error_code: "retries_exhausted",
      });
      const noted = await attemptsOf(db, "dead-1");
      expect(noted).toEqual([
        expect.objectContaining({
          outcome: "async_rejected",
          worker: "stripe",
          stripe_code: NOT_FOUND,
        }),
      ]);
      expect(noted[0]?.message).toMatch(
        /also rejected this identifier.*stays failed as retries_exhausted/,
      );
      expect(await eventRow(db, "gone-1")).toMatchObject({
        status: "discarded",
        last_error_code: "timeout",
      });
      expect(await attemptsOf(db, "gone-1")).toEqual([]);
    });

    it("a redelivered thin event changes nothing, even for an event retried since", async () => {
      const { db } = suite.database;
      await insertEvent(db, "redo-1", { status: "reported", attempts: 1, claims: 1 });
      await sentToStripe(suite, "redo-1");
      const [thin] = await flushReports(suite);
      if (thin === undefined) throw new Error("no thin event was sent");
      expect((await eventRow(db, "redo-1")).status).toBe("failed");
      // A person retried it (to no avail, but that is the next send's business).
      await operatorRetry(db, "redo-1");
      const before = await attemptsOf(db, "redo-1");

      const again = await redeliver(suite, thin);

      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ handled: true, duplicate: true, failed: 0 });
      expect((await eventRow(db, "redo-1")).status).toBe("pending");
      expect(await attemptsOf(db, "redo-1")).toEqual(before);
      expect(await rejectionOf(db, "redo-1")).toEqual({ code: NOT_FOUND, stripe_event_id: thin });
    });

    it("a rejected identifier Meterline has no event for is recorded, and decides the event if it appears", async () => {
      const { db } = suite.database;
      // Sent by no one we know of (say, from an outbox restored to a backup taken before it).
      await sentToStripe(suite, "stray-1");

      const [thin] = await flushReports(suite);

      expect(await rejectionOf(db, "stray-1")).toEqual({ code: NOT_FOUND, stripe_event_id: thin });
      // The producer sends it again; its resend is answered "already exists": it fails, never reported.
      await insertEvent(db, "stray-1", {});
      await reportUntilSettled(db, suite, "stray-1");
      expect(await eventRow(db, "stray-1")).toMatchObject({
        status: "failed",
        last_error_code: NOT_FOUND,
      });
    });

    it("the first rejection of an identifier wins over a later one with another code", async () => {
      const { db } = suite.database;
      await insertEvent(db, "twice-1", { status: "reported", attempts: 1, claims: 1 });
      const named = (code: string) => ({
        named: [{ identifier: "twice-1", code, message: `rejected as ${code}` }],
        unnamed: 0,
      });
      const payload = { test: true };

      const first = await applyAsyncRejections(
        db,
        { id: "evt_first", type: "v1.billing.meter.error_report_triggered", payload },
        named(NOT_FOUND),
      );
      const second = await applyAsyncRejections(
        db,
        { id: "evt_second", type: "v1.billing.meter.no_meter_found", payload },
        named("no_meter"),
      );

      expect(first).toMatchObject({ duplicate: false, recorded: ["twice-1"], failed: ["twice-1"] });
      expect(second).toMatchObject({ duplicate: false, recorded: [], unchanged: ["twice-1"] });
      expect(await rejectionOf(db, "twice-1")).toEqual({
        code: NOT_FOUND,
        stripe_event_id: "evt_first",
      });
      expect((await eventRow(db, "twice-1")).last_error_code).toBe(NOT_FOUND);
      expect((await attemptsOf(db, "twice-1")).map((a) => a.outcome)).toEqual(["async_rejected"]);
    });
  },
);
