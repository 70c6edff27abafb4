import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { meters } from "../../src/db/schema/meters.ts";
import { subscriptionItems } from "../../src/db/schema/subscription-items.ts";
import { causeOf, countCauses, type RetryCheckRow } from "../../src/outbox/dlq-retry-check.ts";
import { seed, startApi, type TestApi } from "../api/harness.ts";
import { backends } from "../support/db.ts";
import { insertEvent, resetOutbox, statuses } from "./dead-letters-fixtures.ts";

const DAY = 86_400_000;
const MARGIN = 60 * 60_000;

describe("a retry's check: will the cause fail the event again? (pure)", () => {
  const now = new Date("2026-12-01T12:00:00Z");
  const fine: RetryCheckRow = {
    id: "e",
    occurredAt: new Date(now.getTime() - DAY),
    customerStatus: "active",
    needsItem: false,
    hasItem: false,
  };

  it("one row per cause, in pre-flight's order; a fixed cause is no cause", () => {
    expect(causeOf(fine, now, MARGIN)).toBeNull();
    expect(causeOf({ ...fine, customerStatus: null }, now, MARGIN)).toBe("customer_not_found");
    expect(causeOf({ ...fine, customerStatus: "deleted" }, now, MARGIN)).toBe("customer_deleted");
    expect(causeOf({ ...fine, needsItem: true }, now, MARGIN)).toBe("subscription_item_missing");
    expect(causeOf({ ...fine, needsItem: true, hasItem: true }, now, MARGIN)).toBeNull();
    // Stripe's 35 days less the margin: the margin's edge is the line.
    const edge = now.getTime() - 35 * DAY + MARGIN;
    expect(causeOf({ ...fine, occurredAt: new Date(edge) }, now, MARGIN)).toBeNull();
    expect(causeOf({ ...fine, occurredAt: new Date(edge - 1) }, now, MARGIN)).toBe(
      "timestamp_too_old",
    );
    // Too old wins over the customer: nothing done to the customer can send it.
    expect(
      causeOf({ ...fine, occurredAt: new Date(edge - 1), customerStatus: null }, now, MARGIN),
    ).toBe("timestamp_too_old");
  });

  it("counts per cause, only causes that occur", () => {
    const rows = [
      fine,
      { ...fine, customerStatus: "deleted" as const },
      { ...fine, customerStatus: "deleted" as const },
    ];
    expect(countCauses(rows, now, MARGIN)).toEqual({ customer_deleted: 2 });
    expect(countCauses([fine], now, MARGIN)).toEqual({});
  });
});

describe.each(backends)("POST /v1/dead-letters/retry reports causes still there, on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await seed(api.db, { customers: ["acme", "legacy"], deleted: ["gone"], meters: ["api_calls"] });
    await api.db.insert(meters).values({ eventName: "seats", deliveryMode: "usage_records" });
  });
  afterAll(() => api?.close());
  beforeEach(async () => {
    await resetOutbox(api.db);
    await insertEvent(api.db, "ok", {});
    await insertEvent(api.db, "deleted-1", { customerKey: "gone" });
    await insertEvent(api.db, "deleted-2", { customerKey: "gone" });
    await insertEvent(api.db, "missing", { customerKey: "nobody" });
    await insertEvent(api.db, "old", { occurredAt: new Date(Date.now() - 36 * DAY) });
    await insertEvent(api.db, "no-item", { customerKey: "legacy", eventName: "seats" });
  });

  const retry = async (payload: object) => {
    const res = await api.call({ method: "POST", url: "/v1/dead-letters/retry", payload });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const expected = {
    customer_deleted: 2,
    customer_not_found: 1,
    timestamp_too_old: 1,
    subscription_item_missing: 1,
  };

  it("the dry run counts, per cause, the events that would fail again; changes nothing", async () => {
    const before = await statuses(api.db);
    const body = await retry({ filter: {}, dry_run: true });
    expect(body.would_change).toBe(6);
    expect(body.will_fail_again).toEqual(expected);
    expect(await statuses(api.db)).toEqual(before);
  });

  it("the retry reports the same of what it retried; a fixed cause is not counted", async () => {
    await api.db.insert(subscriptionItems).values({
      customerKey: "legacy",
      eventName: "seats",
      subscriptionItemId: "si_legacy",
    });
    try {
      const body = await retry({ filter: {} });
      expect(body.changed).toBe(6);
      const { subscription_item_missing: _fixed, ...still } = expected;
      expect(body.will_fail_again).toEqual(still);
    } finally {
      await api.db.delete(subscriptionItems);
    }
  });

  it("named ids count only those; nothing to warn of leaves the field out", async () => {
    const named = await retry({ ids: ["missing", "ok"] });
    expect(named.will_fail_again).toEqual({ customer_not_found: 1 });
    const fine = await retry({ ids: ["deleted-1"], dry_run: true });
    expect(fine.will_fail_again).toEqual({ customer_deleted: 1 });
    await insertEvent(api.db, "ok-2", {});
    expect(await retry({ ids: ["ok-2"] })).not.toHaveProperty("will_fail_again");
  });
});
