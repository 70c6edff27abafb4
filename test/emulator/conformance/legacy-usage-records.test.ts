import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { manualClock, rejectionOf } from "../helpers.ts";
import { meteredItem, PRE_BASIL, usageRecord } from "./legacy-support.ts";
import { setup, T0 } from "./support.ts";

describe("stripe-facts: Which API reports usage — legacy usage records", () => {
  it('subscriptions: items carry current_period_start/end (basil puts them on items), "enough to support legacy usage records"', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const item = await meteredItem(stripe);
    expect(item).toMatchObject({
      object: "subscription_item",
      current_period_start: T0,
      current_period_end: Date.UTC(2026, 11, 24, 12) / 1000,
      price: { recurring: { interval: "month", usage_type: "metered" } },
    });
    emu.advanceClock(31 * 86_400);
    const renewed = await stripe.subscriptionItems.retrieve(item.id);
    expect(renewed.current_period_start).toBe(item.current_period_end);
  });

  it('usage records: "removed in API version 2025-03-31.basil" — refused for a request on basil or later', async () => {
    const { emu, stripe } = await setup();
    const item = await meteredItem(stripe);
    for (const apiVersion of ["2025-03-31.basil", undefined]) {
      // undefined: stripe-node sends its own pinned version (later than basil).
      const options = apiVersion === undefined ? {} : { apiVersion };
      const error = await rejectionOf(usageRecord(stripe, item.id, { quantity: 1 }, options));
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error).toMatchObject({ statusCode: 400 });
    }
    expect(emu.ledger().usage_records).toEqual([]);
  });

  it('usage records: "call through stripe.rawRequest with a pinned pre-basil apiVersion" (fields quantity, timestamp, action = increment | set)', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const item = await meteredItem(stripe);
    emu.advanceClock(3600);
    const record = await usageRecord(stripe, item.id, { quantity: 5, timestamp: T0 + 10 });
    expect(record).toMatchObject({
      object: "usage_record",
      livemode: false,
      quantity: 5,
      subscription_item: item.id,
      timestamp: T0 + 10,
    });
    expect(record.id).toMatch(/^mbur_/);
    await usageRecord(stripe, item.id, { quantity: 2, timestamp: T0 + 10 });
    await usageRecord(stripe, item.id, { quantity: 1, timestamp: T0 + 20, action: "set" });
    await usageRecord(stripe, item.id, { quantity: 4, timestamp: T0 + 20, action: "set" });
    const customer = (await stripe.subscriptions.retrieve(item.subscription)).customer;
    expect(emu.ledger().totals).toEqual([{ customer, event_name: "api_requests", value: 11 }]);
  });

  it('usage records: "404 resource_missing \\"No such subscription item\\""', async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(usageRecord(stripe, "si_missing", { quantity: 1 }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      message: "No such subscription item: 'si_missing'",
    });
  });

  it('usage records: "the timestamp must lie inside the subscription\'s current billing period and not in the future" (400)', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const item = await meteredItem(stripe);
    for (const timestamp of [T0 - 1, T0 + 60]) {
      const error = await rejectionOf(usageRecord(stripe, item.id, { quantity: 1, timestamp }));
      expect(error).toMatchObject({ statusCode: 400, param: "timestamp" });
    }
    expect(emu.ledger().usage_records).toEqual([]);
  });

  it('usage records: "no identifier field: the Idempotency-Key is the only dedup"', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const item = await meteredItem(stripe);
    const options = { apiVersion: PRE_BASIL, idempotencyKey: "ur-1" };
    const first = await usageRecord(stripe, item.id, { quantity: 3, timestamp: T0 }, options);
    const replay = await usageRecord(stripe, item.id, { quantity: 3, timestamp: T0 }, options);
    expect(replay.id).toBe(first.id);
    await usageRecord(stripe, item.id, { quantity: 3, timestamp: T0 }, { apiVersion: PRE_BASIL });
    expect(emu.ledger().usage_records).toHaveLength(2);
    expect(emu.ledger().totals[0]?.value).toBe(6);
  });
});
