import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/connect.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import type { ClaimedEvent } from "../../src/outbox/claim.ts";
import type { SendItem } from "../../src/reporter/admit.ts";
import type { OutboundEvent, UsageSink } from "../../src/reporter/sinks/port.ts";
import { fromUsageRecords } from "../../src/reporter/sinks/usage-records.ts";
import { verifyStored } from "../../src/reporter/verify-stored.ts";
import { backends } from "../support/db.ts";
import { reporterSuite } from "./harness.ts";
import { insertEvents } from "./seed.ts";
import { subscribedItem } from "./subscriptions.ts";

const EVENT = "seats";

/** What one read of Stripe's totals answers. */
type PeriodRead = Awaited<ReturnType<NonNullable<UsageSink["periodTotal"]>>>;

/**
 * A usage record's stored 5xx is judged by comparing Stripe's period total with what Meterline
 * knows of the pair. One request per pair at a time is the rule, but across workers (a rescue,
 * a worker frozen past its lease, two claims in the same instant) a neighbour of the same pair
 * can be sent or settled while the totals are read. These tests put that neighbour exactly
 * there: between the reads.
 */
describe.each(backends)(
  "verifying a stored usage-record 5xx while a neighbour moves, on %s",
  (kind) => {
    const suite = reporterSuite(kind);
    let sink: UsageSink;
    beforeAll(async () => {
      sink = fromUsageRecords(suite.env.stripe);
      await suite.database.db
        .insert(meters)
        .values({ eventName: EVENT, deliveryMode: "usage_records" });
    });

    /** A customer with a fresh subscription item, and a way to build its events. */
    async function pair(key: string) {
      const { db } = suite.database;
      const sub = await subscribedItem(suite.env.stripe, EVENT);
      await db.insert(customers).values({ key, stripeCustomerId: sub.customer });
      const occurredAt = new Date();
      const outbound = (id: string, value: number): OutboundEvent => ({
        id,
        identifier: id,
        eventName: EVENT,
        stripeCustomerId: sub.customer,
        value,
        occurredAt,
        customerPayloadKey: "stripe_customer_id",
        valuePayloadKey: "value",
        subscriptionItemId: sub.item,
        keyGeneration: 0,
      });
      /** Stores the event, as sent (first_sent_at) when `sent`, and files it in Stripe when `applied`. */
      const event = async (id: string, value: number, o: { sent: boolean; applied: boolean }) => {
        await insertEvents(db, [{ id, customerKey: key, eventName: EVENT, value, occurredAt }]);
        if (o.sent && o.applied) await send(id, value);
        else if (o.sent) await markSent(db, id);
      };
      /** Sends the event as a worker does: first_sent_at, then the request (Stripe applies it). */
      const send = async (id: string, value: number) => {
        await markSent(db, id);
        expect((await sink.send(outbound(id, value))).kind).toBe("ok");
      };
      const item = (id: string, value: number): SendItem => ({
        key: `${key}\u0000${EVENT}`,
        event: claimed(id, key, value, occurredAt),
        outbound: outbound(id, value),
        sink,
      });
      return { event, send, item };
    }

    it("a neighbour reported between Stripe's read and Meterline's does not make an applied record look unapplied (which would resend it under a new key: billed twice)", async () => {
      const p = await pair("race-reported");
      // Stripe applied X, then answered 500 and stored it under X's key.
      await p.event("x-applied", 5, { sent: true, applied: true });
      await p.event("y-reported", 3, { sent: false, applied: false });
      const verdict = await verifyWhile(p.item("x-applied", 5), async (read, n) => {
        const total = await read();
        // Right after Stripe's first total is read, another worker sends Y (Stripe applies it)
        // and settles it reported.
        if (n === 1) {
          await p.send("y-reported", 3);
          await suite.database.db.execute(
            sql`update usage_events set status = 'reported' where id = 'y-reported'`,
          );
        }
        return total;
      });
      expect(verdict.kind).toBe("applied");
    });

    it("a neighbour sent while the totals are read is not taken for the record itself: nothing is decided, the event retries", async () => {
      const p = await pair("race-sent");
      // Stripe applied nothing of X (its 500 came first) and stored the 500 under X's key.
      await p.event("x-lost", 5, { sent: true, applied: false });
      const verdict = await verifyWhile(p.item("x-lost", 5), async (read, n) => {
        // Before each read of Stripe's totals another worker sends a neighbour of the same value
        // (Stripe applies it; no answer has come back yet, so it is only "sent").
        await p.event(`y-sent-${n}`, 5, { sent: true, applied: true });
        return read();
      });
      // Read without a second look, Stripe's total (two neighbours, 10) would equal X's value plus
      // the one uncertain neighbour the first read knew of (5 + 5): "applied", and X never billed.
      expect(verdict.kind).toBe("moved");
    });

    /** verifyStored of `x`, with `onRead` around each of its reads of Stripe's totals (the n-th). */
    function verifyWhile(
      x: SendItem,
      onRead: (read: () => Promise<PeriodRead>, n: number) => Promise<PeriodRead>,
    ) {
      let reads = 0;
      const periodTotal = async (event: OutboundEvent) =>
        onRead(async () => (await sink.periodTotal?.(event)) ?? null, ++reads);
      return verifyStored(
        suite.database.db,
        { ...x, sink: { ...sink, periodTotal } },
        async () => {},
      );
    }
  },
);

/** Sets first_sent_at, as the sending worker does before its request leaves. */
async function markSent(db: Db, id: string): Promise<void> {
  await db.execute(sql`update usage_events set first_sent_at = now() where id = ${id}`);
}

/** The event as a worker holds it once claimed. */
function claimed(id: string, customerKey: string, value: number, occurredAt: Date): ClaimedEvent {
  return {
    id,
    customerKey,
    eventName: EVENT,
    value,
    occurredAt,
    receivedAt: occurredAt,
    attempts: 1,
    claims: 1,
    openClaims: 1,
    firstSentAt: occurredAt,
    keyGeneration: 0,
    firstAmbiguousAt: occurredAt,
    waitReason: null,
  };
}
