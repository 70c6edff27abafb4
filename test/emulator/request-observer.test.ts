import { describe, expect, it } from "vitest";
import type { UsageRequest } from "../../src/emulator/index.ts";
import { waitFor } from "../support/wait.ts";
import { meteredItem, PRE_BASIL } from "./conformance/legacy-support.ts";
import { admin, setup } from "./helpers.ts";

/** How long the emulator takes to answer, and how long the client waits: it gives up first. */
const LATENCY_MS = 400;
const CLIENT_WAITS_MS = 50;

/** POSTs a usage record with plain fetch and gives up before the answer, as a timed-out worker. */
async function abandonedUsageRecord(url: string, key: string, item: string): Promise<void> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const body = new URLSearchParams({ quantity: "9", timestamp, action: "increment" });
  await fetch(`${url}/v1/subscription_items/${item}/usage_records`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/x-www-form-urlencoded",
      "stripe-version": PRE_BASIL,
      "idempotency-key": `abandoned-${item}`,
    },
    body,
    signal: AbortSignal.timeout(CLIENT_WAITS_MS),
  }).then(
    () => {
      throw new Error("the emulator answered before the client gave up");
    },
    () => {},
  );
}

// The chaos run's request log reads what the emulator did from this observer. A client that
// gives up closes the connection before the endpoint has run: the observer must report what
// the endpoint then did, not the status a reply holds before anything is sent (200).
describe("the usage request observer, when the client gives up before the answer", () => {
  it("reports a refused request (no such subscription item) as refused, not applied", async () => {
    const log: UsageRequest[] = [];
    const { emu } = await setup({}, { onUsageRequest: (r) => log.push(r) });
    await admin(emu, "/_emulator/faults/usage_records", { latencyMs: LATENCY_MS });

    await abandonedUsageRecord(emu.url, emu.apiKey, "si_gone");
    await waitFor("the observer to report the request", async () => log.length >= 1, 5_000);

    expect(log[0]).toMatchObject({ status: 404, applied: false, answered: false });
    expect(emu.ledger().usage_records).toEqual([]);
  });

  it("reports an applied one as applied, once the endpoint has run", async () => {
    const log: UsageRequest[] = [];
    const { emu, stripe } = await setup({}, { onUsageRequest: (r) => log.push(r) });
    const item = await meteredItem(stripe);
    await admin(emu, "/_emulator/faults/usage_records", { latencyMs: LATENCY_MS });

    await abandonedUsageRecord(emu.url, emu.apiKey, item.id);
    await waitFor("the observer to report the request", async () => log.length >= 1, 5_000);

    expect(log[0]).toMatchObject({ status: 200, applied: true, answered: false });
    expect(emu.ledger().usage_records).toHaveLength(1);
  });
});
