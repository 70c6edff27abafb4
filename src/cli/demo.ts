import { randomBytes } from "node:crypto";
import { z } from "zod";
import { loadConfig } from "../config.ts";
import type { QueueStats } from "../ops/stats.ts";
import { createStripeClient } from "../reporter/stripe-client.ts";
import { MeterlineClient } from "./api-client.ts";
import { demoModes, setUpDemo } from "./demo-setup.ts";
import { LiveCounts } from "./live-counts.ts";
import { readRuntimeInfo } from "./runtime-info.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

const HELP = `Usage: meterline demo [options]

Talks to a running "meterline start" (found through METERLINE_DATA_DIR/runtime.json): creates
customers and a meter in the bundled emulator, declares them in Meterline, then sends a steady
stream of usage events with poison pills mixed in — events of customers deleted while their
events wait, and timestamps 40 days old — and shows live counts of reported, pending and
dead-lettered events. At the end it checks the emulator's ledger against what it sent.

Options:
  --mode M          how Meterline reports to Stripe: meter-events (v1, the default), stream
                    (the v2 meter event stream, batches of up to 100) or usage-records (legacy
                    usage records on a subscription item per customer)
  --customers N     healthy customers (default 20)
  --rate N          events per second (default 100)
  --duration S      seconds to send for (default 30)
  --poison-every N  one event in N is a poison pill (default 25)`;

const flagsSchema = z.object({
  mode: z.enum(demoModes).default("meter-events"),
  customers: z.coerce.number().int().min(1).max(10_000).default(20),
  rate: z.coerce.number().int().min(1).max(10_000).default(100),
  duration: z.coerce.number().int().min(1).max(86_400).default(30),
  "poison-every": z.coerce.number().int().min(2).default(25),
});

const DAY_S = 86_400;

/** `meterline demo`: a live stream of events with poison pills, against a running `start`. */
export async function cmdDemo(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args,
    {
      mode: { type: "string" },
      customers: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      "poison-every": { type: "string" },
    },
    flagsSchema,
    HELP,
  );
  if (!parsed) return;
  const f = parsed.flags;
  const config = loadConfig();
  const info = await readRuntimeInfo(config.dataDir);
  if (!info)
    throw new UsageError(
      `no running "meterline start" found in ${config.dataDir}: start one first (npm start)`,
    );
  const api = new MeterlineClient(info.api_url, info.api_key);
  const stripe = createStripeClient({
    secretKey: info.stripe_key,
    apiBase: info.emulator_url,
    timeoutMs: 10_000,
  });
  const run = randomBytes(3).toString("hex");

  // Set-up: a meter in the mode's delivery mode and healthy customers, in Stripe (the
  // emulator) and in Meterline.
  const { eventName, healthy } = await setUpDemo(f.mode, api, stripe, run, f.customers);
  process.stdout.write(`Demo mode ${f.mode}: meter ${eventName}, ${healthy.length} customers.\n`);

  // Poison, kind 1: a customer whose events wait (not yet linked to Stripe) and who is then
  // deleted, as when an account closes with usage still queued. Rotated every few seconds.
  let doomed = await newDoomedCustomer(api, run, 0);
  const sentValue = new Map<string, number>();
  const poison: Array<{ id: string; kind: string }> = [];
  let sent = 0;
  let seq = 0;
  const live = new LiveCounts(f.duration);
  const started = Date.now();
  // This run's events only: the meter's, received since it began (the server runs on this host,
  // whose clock started came from; a second off would only add a previous run's last events).
  const ownStats = () =>
    api.must<QueueStats>(
      "GET",
      `/v1/stats?event_name=${encodeURIComponent(eventName)}&received_since=${new Date(started).toISOString()}`,
      undefined,
      [200],
    );
  let lastRotation = started;

  while (Date.now() - started < f.duration * 1000) {
    const tickStart = Date.now();
    const events = [];
    for (let i = 0; i < f.rate; i++) {
      seq++;
      const id = `demo-${run}-${seq}`;
      const now = Math.floor(Date.now() / 1000);
      if (seq % f["poison-every"] === 0) {
        // Poison: alternate a deleted customer's event and a timestamp 40 days old.
        if ((seq / f["poison-every"]) % 2 === 0) {
          events.push({ id, customer: doomed, event_name: eventName, value: 1 });
          poison.push({ id, kind: "deleted customer" });
        } else {
          const c = pick(healthy);
          events.push({
            id,
            customer: c.key,
            event_name: eventName,
            value: 1,
            timestamp: now - 40 * DAY_S,
          });
          poison.push({ id, kind: "timestamp 40 days old" });
        }
        continue;
      }
      const c = pick(healthy);
      const value = 1 + Math.floor(Math.random() * 10);
      events.push({ id, customer: c.key, event_name: eventName, value, timestamp: now });
      sentValue.set(c.stripeId, (sentValue.get(c.stripeId) ?? 0) + value);
    }
    await api.must("POST", "/v1/events", { events }, [202]);
    sent += events.length;
    if (Date.now() - lastRotation >= 5_000) {
      await api.must("DELETE", `/v1/customers/${doomed}`, undefined, [200]);
      doomed = await newDoomedCustomer(api, run, seq);
      lastRotation = Date.now();
    }
    live.update(sent, await ownStats(), (Date.now() - started) / 1000);
    await sleep(Math.max(0, 1000 - (Date.now() - tickStart)));
  }
  await api.must("DELETE", `/v1/customers/${doomed}`, undefined, [200]);

  // Drain: wait until nothing of ours is pending, then compare the ledger with what was sent.
  const drainStart = Date.now();
  let stats = await ownStats();
  while (stats.pending.total > 0 && Date.now() - drainStart < 60_000) {
    live.update(sent, stats, (Date.now() - started) / 1000);
    await sleep(500);
    stats = await ownStats();
  }
  live.stop(sent, stats);
  await printSummary(api, info.emulator_url, eventName, poison, sentValue);
}

async function newDoomedCustomer(api: MeterlineClient, run: string, n: number): Promise<string> {
  const key = `demo-${run}-closing-${n}`;
  await api.must("PUT", `/v1/customers/${key}`, {}, [200, 201]);
  return key;
}

async function printSummary(
  api: MeterlineClient,
  emulatorUrl: string,
  eventName: string,
  poison: Array<{ id: string; kind: string }>,
  sentValue: Map<string, number>,
): Promise<void> {
  const out: string[] = ["", "Poison pills, as GET /v1/events/:id shows them:"];
  const samples = [
    poison.find((p) => p.kind === "deleted customer"),
    poison.find((p) => p.kind !== "deleted customer"),
  ];
  for (const p of samples) {
    if (!p) continue;
    const { body } = await api.request<{
      status: string;
      last_error: { code: string; message: string } | null;
    }>("GET", `/v1/events/${p.id}`);
    out.push(
      `  ${p.id} (${p.kind}): ${body.status}, ${body.last_error?.code}: ${body.last_error?.message}`,
    );
  }
  const ledger = (await (await fetch(`${emulatorUrl}/_emulator/ledger`)).json()) as {
    totals: Array<{ customer: string; event_name: string; value: number }>;
  };
  let mismatches = 0;
  for (const [customer, value] of sentValue) {
    const billed =
      ledger.totals.find((t) => t.customer === customer && t.event_name === eventName)?.value ?? 0;
    if (billed !== value) mismatches++;
  }
  const total = [...sentValue.values()].reduce((a, b) => a + b, 0);
  out.push(
    "",
    mismatches === 0
      ? `Stripe's ledger matches what was sent: ${sentValue.size} customers, ${total} units, none lost, none counted twice.`
      : `Stripe's ledger differs from what was sent for ${mismatches} of ${sentValue.size} customers (still pending, or lost).`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

function pick<T>(items: T[]): T {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
