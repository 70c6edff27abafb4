import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { manualClock, rejectionOf } from "../helpers.ts";
import { meteredItem, PRE_BASIL, usageRecord, usageRecordSummaries } from "./legacy-support.ts";
import { setup, T0 } from "./support.ts";

/** The monthly periods of an item created at T0 (2026-11-24T12:00Z). */
const DEC_24 = Date.UTC(2026, 11, 24, 12) / 1000;
const JAN_24 = Date.UTC(2027, 0, 24, 12) / 1000;
const FEB_24 = Date.UTC(2027, 1, 24, 12) / 1000;
const DAY = 86_400;

describe('stripe-facts: "only Stripe\'s totals (usage_record_summaries on a pre-basil version: total_usage per period) can tell"', () => {
  it("lists one summary for the current period, in Stripe's list shape, with the usage applied so far (increment adds, set replaces)", async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const item = await meteredItem(stripe);
    emu.advanceClock(3600);
    await usageRecord(stripe, item.id, { quantity: 5, timestamp: T0 + 10 });
    await usageRecord(stripe, item.id, { quantity: 2, timestamp: T0 + 10 });
    await usageRecord(stripe, item.id, { quantity: 1, timestamp: T0 + 20, action: "set" });
    await usageRecord(stripe, item.id, { quantity: 4, timestamp: T0 + 20, action: "set" });

    const list = await usageRecordSummaries(stripe, item.id);
    expect(list).toMatchObject({
      object: "list",
      has_more: false,
      url: `/v1/subscription_items/${item.id}/usage_record_summaries`,
    });
    expect(list.data).toEqual([
      {
        id: expect.stringMatching(/^sis_\w{24}$/),
        object: "usage_record_summary",
        invoice: null,
        livemode: false,
        period: { start: T0, end: DEC_24 },
        subscription_item: item.id,
        total_usage: 11,
      },
    ]);
  });

  it("a new item's current period sums to 0", async () => {
    const { stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const item = await meteredItem(stripe);
    const list = await usageRecordSummaries(stripe, item.id);
    expect(list.data.map((s) => s.total_usage)).toEqual([0]);
  });

  it("lists every period newest first, each with its own total, and ids stay put between reads", async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const item = await meteredItem(stripe);
    await usageRecord(stripe, item.id, { quantity: 3, timestamp: T0 });
    emu.setClock(DEC_24 + DAY);
    await usageRecord(stripe, item.id, { quantity: 7, timestamp: DEC_24 });
    emu.setClock(JAN_24 + DAY);

    const first = await usageRecordSummaries(stripe, item.id);
    expect(first.data.map((s) => [s.period.start, s.period.end, s.total_usage])).toEqual([
      [JAN_24, FEB_24, 0],
      [DEC_24, JAN_24, 7],
      [T0, DEC_24, 3],
    ]);
    const again = await usageRecordSummaries(stripe, item.id);
    expect(again.data.map((s) => s.id)).toEqual(first.data.map((s) => s.id));
    expect(new Set(first.data.map((s) => s.id)).size).toBe(3);
  });

  it("counts a record that was applied although the answer was a 500, and not one that failed before applying", async () => {
    // Draws per request: latency, outcome, ambiguous kind; 0.9 ≥ 0.5 makes an ambiguous
    // failure answer 500 instead of dropping the connection.
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000), random: () => 0.9 });
    const item = await meteredItem(stripe);
    await usageRecord(stripe, item.id, { quantity: 1, timestamp: T0 });

    emu.setEndpointFaults("usage_records", { pAmbiguous: 1 });
    const appliedThenFailed = await rejectionOf(
      usageRecord(stripe, item.id, { quantity: 10, timestamp: T0 }),
    );
    expect(appliedThenFailed).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(appliedThenFailed).toMatchObject({ statusCode: 500 });

    emu.setEndpointFaults("usage_records", { pAmbiguous: 0, p500: 1 });
    const failedBeforeApplying = await rejectionOf(
      usageRecord(stripe, item.id, { quantity: 100, timestamp: T0 }),
    );
    expect(failedBeforeApplying).toMatchObject({ statusCode: 500 });

    // The summaries route is outside the usage_records fault group: it answers truthfully.
    const list = await usageRecordSummaries(stripe, item.id);
    expect(list.data.map((s) => s.total_usage)).toEqual([11]);
    expect(emu.ledger().usage_records.map((r) => r.quantity)).toEqual([1, 10]);
  });

  it("pages with limit, starting_after and ending_before like other lists", async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const item = await meteredItem(stripe);
    emu.setClock(JAN_24 + DAY);
    const all = (await usageRecordSummaries(stripe, item.id)).data.map((s) => s.id);
    const [newest, middle, oldest] = all;
    if (newest === undefined || middle === undefined || oldest === undefined) {
      throw new Error(`expected three periods, got ${all.length}`);
    }

    const page1 = await usageRecordSummaries(stripe, item.id, { limit: 2 });
    expect(page1.has_more).toBe(true);
    expect(page1.data.map((s) => s.id)).toEqual([newest, middle]);

    const page2 = await usageRecordSummaries(stripe, item.id, { limit: 2, starting_after: middle });
    expect(page2.has_more).toBe(false);
    expect(page2.data.map((s) => s.id)).toEqual([oldest]);

    const back = await usageRecordSummaries(stripe, item.id, { limit: 1, ending_before: oldest });
    expect(back.has_more).toBe(true);
    expect(back.data.map((s) => s.id)).toEqual([middle]);
  });

  it('answers an unknown item with Stripe\'s 404: resource_missing "No such subscription item"', async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(usageRecordSummaries(stripe, "si_missing"));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({
      statusCode: 404,
      raw: {
        type: "invalid_request_error",
        code: "resource_missing",
        message: "No such subscription item: 'si_missing'",
        param: "subscription_item",
        doc_url: "https://stripe.com/docs/error-codes/resource-missing",
      },
    });
  });

  it('is refused, like usage records, on 2025-03-31.basil and later ("removed in API version 2025-03-31.basil")', async () => {
    const { stripe } = await setup();
    const item = await meteredItem(stripe);
    const error = await rejectionOf(
      usageRecordSummaries(stripe, item.id, {}, { apiVersion: "2025-03-31.basil" }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400 });
    await expect(
      usageRecordSummaries(stripe, item.id, {}, { apiVersion: PRE_BASIL }),
    ).resolves.toMatchObject({ object: "list" });
  });
});
