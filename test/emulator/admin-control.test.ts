import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator } from "../../src/emulator/index.ts";
import { admin, clientFor, customerAndMeter, manualClock, setup } from "./helpers.ts";

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0) / 1000;
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe("admin routes and options", () => {
  it("the clock moves by POST /_emulator/clock {advance_seconds} and {set}", async () => {
    const { emu } = await setup({}, { clock: manualClock(T0 * 1000) });
    expect((await admin(emu, "/_emulator/clock")).json).toMatchObject({ now: T0 });
    expect((await admin(emu, "/_emulator/clock", { advance_seconds: 90 })).json).toMatchObject({
      now: T0 + 90,
    });
    expect((await admin(emu, "/_emulator/clock", { set: T0 - 5 })).json).toMatchObject({
      now: T0 - 5,
    });
    expect((await admin(emu, "/_emulator/clock", { advance: 1 })).status).toBe(400);
  });

  it("startTime sets the clock at start", async () => {
    const { emu } = await setup({ startTime: T0 });
    expect(Math.abs(emu.now() - T0)).toBeLessThanOrEqual(1);
  });

  it("per-endpoint faults override the global ones for their group only", async () => {
    const { emu } = await setup({ faults: { p500: 0.5 } });
    await admin(emu, "/_emulator/faults/usage_records", { p500: 0, p429: 1 });
    expect(emu.endpointFaults("usage_records")).toMatchObject({ p500: 0, p429: 1 });
    expect(emu.endpointFaults("meter_events")).toMatchObject({ p500: 0.5 });
    expect(emu.endpointFaults("default")).toMatchObject({ p500: 0 });
    const all = await admin(emu, "/_emulator/faults/endpoints");
    expect(all.json).toMatchObject({ usage_records: { overridden: true } });
    expect((await admin(emu, "/_emulator/faults/nonsense", { p500: 1 })).status).toBe(400);
  });

  it("rate limits are set and read through the admin route; invalid settings are 400", async () => {
    const { emu } = await setup();
    expect((await admin(emu, "/_emulator/rate-limits")).json).toEqual({ mode: "off" });
    const set = await admin(emu, "/_emulator/rate-limits", { mode: "live", meterEvents: 5 });
    expect(set.json).toEqual({ mode: "live", meterEvents: 5 });
    expect((await admin(emu, "/_emulator/rate-limits", { mode: "fast" })).status).toBe(400);
  });

  it("GET /_emulator/state shows customers, meters and the ledger", async () => {
    const { emu, stripe } = await setup();
    const { customer, meter } = await customerAndMeter(stripe);
    const { json } = await admin(emu, "/_emulator/state");
    expect(json).toMatchObject({
      customers: [expect.objectContaining({ id: customer.id })],
      meters: [expect.objectContaining({ id: meter.id })],
      ledger: { totals: [], events: [], usage_records: [] },
    });
  });

  it("stateFile: customers, meters and the ledger survive a restart on the same file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "emulator-state-"));
    dirs.push(dir);
    const stateFile = join(dir, "stripe.json");
    const first = await startEmulator({ port: 0, stateFile });
    const stripe = clientFor(first);
    const { customer, meter } = await customerAndMeter(stripe);
    await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "3" },
      identifier: "kept",
    });
    await first.close();

    const second = await startEmulator({ port: 0, stateFile });
    try {
      const again = clientFor(second);
      expect((await again.customers.retrieve(customer.id)).id).toBe(customer.id);
      expect((await again.billing.meters.retrieve(meter.id)).event_name).toBe("api_requests");
      expect(second.ledger().totals).toEqual([
        { customer: customer.id, event_name: "api_requests", value: 3 },
      ]);
    } finally {
      await second.close();
    }
  });
});
