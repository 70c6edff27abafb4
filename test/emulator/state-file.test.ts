import { existsSync } from "node:fs";
import { appendFile, copyFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Clock, type RunningEmulator, startEmulator } from "../../src/emulator/index.ts";
import { createAdjustment } from "../../src/emulator/state/adjustments.ts";
import { createCustomer, updateCustomer } from "../../src/emulator/state/customers.ts";
import { journalPath, listJournals } from "../../src/emulator/state/journal.ts";
import { createMeterEvent } from "../../src/emulator/state/meter-events.ts";
import { StateFile } from "../../src/emulator/state/state-file.ts";
import { Store } from "../../src/emulator/state/store.ts";
import { meteredItem, usageRecord } from "./conformance/legacy-support.ts";
import { streamClient } from "./conformance/support.ts";
import { admin, clientFor, customerAndMeter, rejectionOf } from "./helpers.ts";

// The state file is a snapshot plus a journal of every change since (src/emulator/state/):
// these tests restart on it after each kind of change, after compactions, and after the
// crashes a compaction can be cut short by.

const dirs: string[] = [];
const running: Array<RunningEmulator | StateFile> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function stateFilePath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "emulator-state-"));
  dirs.push(dir);
  return join(dir, "stripe.json");
}

/** The durable part of an emulator's state, as its admin route shows it. */
async function durable(emu: RunningEmulator): Promise<unknown> {
  const { json } = await admin(emu, "/_emulator/state");
  const { customers, meters, products, prices, subscriptions, ledger } = json as Record<
    string,
    unknown
  >;
  return { customers, meters, products, prices, subscriptions, ledger };
}

/** Everything a store keeps durably, for comparing a reloaded store with the live one. */
function dump(store: Store): unknown {
  return {
    customers: [...store.customers],
    meters: [...store.meters],
    identifiers: [...store.identifiers],
    ledger: store.ledger.snapshot(),
    products: [...store.products],
    prices: [...store.prices],
    subscriptions: [...store.subscriptions],
  };
}

const clock: Clock = { now: () => Date.now() };
const noError = (error: unknown) => {
  throw error;
};

/** Opens a store on the state file, as the emulator does at start. */
async function openStore(path: string): Promise<{ store: Store; file: StateFile }> {
  const store = new Store();
  const file = await StateFile.open(store, path, noError);
  running.push(file);
  return { store, file };
}

/** Accept a v1 meter event through the emulator's own code (it journals what it changes). */
function meterEvent(store: Store, identifier: string, value = 1): void {
  createMeterEvent(store, clock, false, {
    event_name: "api_requests",
    payload: { stripe_customer_id: "cus_A", value: String(value) },
    identifier,
  });
}

function cancel(store: Store, identifier: string): void {
  createAdjustment(
    store,
    clock,
    false,
    { event_name: "api_requests", cancel: { identifier } },
    () => {},
  );
}

describe("emulator state file: journal and snapshot", () => {
  it("every kind of change is journaled as it happens and replayed at the next start", async () => {
    const stateFile = await stateFilePath();
    const first = await startEmulator({ port: 0, stateFile });
    const stripe = clientFor(first);
    const { customer } = await customerAndMeter(stripe);
    await stripe.customers.update(customer.id, { name: "Acme Ltd", metadata: { tier: "gold" } });
    const gone = await stripe.customers.create({ name: "Gone" });
    await stripe.customers.del(gone.id);
    const old = await stripe.billing.meters.create({
      display_name: "old",
      event_name: "old_requests",
      default_aggregation: { formula: "sum" },
    });
    await stripe.billing.meters.update(old.id, { display_name: "older" });
    await stripe.billing.meters.deactivate(old.id);
    const item = await meteredItem(stripe);
    await usageRecord(stripe, item.id, { quantity: 5, action: "increment" });
    await usageRecord(stripe, item.id, { quantity: 2, action: "set" });
    const cancelled = await meteredItem(stripe);
    if (!cancelled.subscription) throw new Error("item without subscription");
    await stripe.subscriptions.cancel(cancelled.subscription);
    const usage = (identifier: string, value: string) => ({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value },
      identifier,
    });
    await stripe.billing.meterEvents.create(usage("kept", "3"));
    await stripe.billing.meterEvents.create(usage("cancelled", "2"));
    await stripe.billing.meterEventAdjustments.create({
      event_name: "api_requests",
      type: "cancel",
      cancel: { identifier: "cancelled" },
    });
    const session = await stripe.v2.billing.meterEventSession.create();
    await streamClient(first, session.authentication_token).v2.billing.meterEventStream.create({
      events: [usage("streamed", "4"), usage("streamed", "4")],
    });
    const before = await durable(first);
    await first.close();
    // Nothing rewrote the snapshot: the journal alone holds the run.
    expect(existsSync(stateFile)).toBe(false);
    expect(await listJournals(stateFile)).toEqual([0]);

    const second = await startEmulator({ port: 0, stateFile });
    running.push(second);
    expect(await durable(second)).toEqual(before);
    expect(second.ledger().totals).toEqual(
      expect.arrayContaining([{ customer: customer.id, event_name: "api_requests", value: 7 }]),
    );
    // The dedup identifiers came back too: "kept" is still a duplicate within 24 h.
    const again = await rejectionOf(
      clientFor(second).billing.meterEvents.create(usage("kept", "3")),
    );
    expect(again).toMatchObject({ statusCode: 400 });
  });

  it("saveState compacts: the snapshot holds everything, the journals it includes are deleted, later changes replay over it", async () => {
    const stateFile = await stateFilePath();
    const first = await startEmulator({ port: 0, stateFile });
    const stripe = clientFor(first);
    const { customer } = await customerAndMeter(stripe);
    const usage = (identifier: string) => ({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "1" },
      identifier,
    });
    for (let i = 0; i < 5; i++) await stripe.billing.meterEvents.create(usage(`before-${i}`));
    await first.saveState();
    const snapshot = JSON.parse(await readFile(stateFile, "utf8")) as Record<string, unknown>;
    expect(snapshot).toMatchObject({ version: 1, next_journal: 1 });
    expect((snapshot.ledger as { events: unknown[] }).events).toHaveLength(5);
    expect(await listJournals(stateFile)).toEqual([]);
    await stripe.billing.meterEvents.create(usage("after"));
    await stripe.customers.update(customer.id, { name: "Renamed" });
    const before = await durable(first);
    await first.close();
    expect(await listJournals(stateFile)).toEqual([1]);

    const second = await startEmulator({ port: 0, stateFile });
    running.push(second);
    expect(await durable(second)).toEqual(before);
    expect(second.ledger().events).toHaveLength(6);
  });

  it("a state file written before the journal (version 1, whole) loads, and the journal follows it", async () => {
    const stateFile = await stateFilePath();
    const event = (identifier: string) => ({
      identifier,
      event_name: "api_requests",
      customer: "cus_Old",
      value: 2,
      timestamp: 1_790_000_000,
      created: 1_790_000_000,
      counted: true,
      reason: null,
      meter: "mtr_test_old",
    });
    // The shape the whole-file save wrote every 5 s.
    await writeFile(
      stateFile,
      JSON.stringify({
        version: 1,
        customers: [],
        meters: [],
        identifiers: [["a", 1_790_000_000_000]],
        ledger: { events: [event("a"), event("b")], usage_records: [] },
        products: [],
        prices: [],
        subscriptions: [],
      }),
    );
    const first = await startEmulator({ port: 0, stateFile });
    expect(first.ledger().totals).toEqual([
      { customer: "cus_Old", event_name: "api_requests", value: 4 },
    ]);
    await clientFor(first).billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: "cus_Old", value: "5" },
    });
    await first.close();
    expect(await listJournals(stateFile)).toEqual([0]);

    const second = await startEmulator({ port: 0, stateFile });
    running.push(second);
    // The new event has no meter here (not counted), but it is in the ledger after the old two.
    expect(second.ledger().events.map((e) => e.value)).toEqual([2, 2, 5]);
    expect(second.ledger().totals).toEqual([
      { customer: "cus_Old", event_name: "api_requests", value: 4 },
    ]);
  });

  it("changes made while the snapshot is written land in the next journal: the reloaded store equals the live one", async () => {
    const path = await stateFilePath();
    const { store, file } = await openStore(path);
    createCustomer(store, clock, false, { name: "A" });
    for (let i = 0; i < 5_000; i++) meterEvent(store, `e-${i}`);
    const compaction = file.compact();
    let written = false;
    void compaction.then(() => {
      written = true;
    });
    let during = 0;
    // Between the snapshot's slices: new events, cancels of events inside the snapshot's range
    // (early and late ones), and an object edited in place.
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!written) during += 1;
      meterEvent(store, `during-${i}`, 3);
      cancel(store, `e-${i * 250}`);
      cancel(store, `e-${4_999 - i}`);
    }
    const [id] = store.customers.keys();
    if (id === undefined) throw new Error("no customer");
    updateCustomer(store, id, { name: "B" });
    await compaction;
    expect(during).toBeGreaterThan(0);
    meterEvent(store, "after", 7);
    const live = dump(store);
    await file.close();

    const snapshot = JSON.parse(await readFile(path, "utf8")) as { next_journal: number };
    expect(snapshot.next_journal).toBe(1);
    expect(await listJournals(path)).toEqual([1]);
    const reloaded = await openStore(path);
    expect(dump(reloaded.store)).toEqual(live);
  });

  it("crash leftovers change nothing: a torn last journal line, a stale journal, a temporary snapshot", async () => {
    const path = await stateFilePath();
    const first = await openStore(path);
    for (let i = 0; i < 10; i++) meterEvent(first.store, `e-${i}`, i);
    await first.file.close();
    // Journal 0 as it was: a compaction that stops before deleting it leaves exactly this.
    await copyFile(journalPath(path, 0), `${path}.stale`);

    const second = await openStore(path);
    await second.file.compact();
    meterEvent(second.store, "late", 100);
    const live = dump(second.store);
    await second.file.close();
    await copyFile(`${path}.stale`, journalPath(path, 0));
    // A crash in the middle of a write, and in the middle of a snapshot.
    await appendFile(journalPath(path, 2), '{"k":"event","v":{"identifier":"torn","val');
    await writeFile(`${path}.4242.tmp`, '{"version":1,"customers":[');

    const third = await openStore(path);
    expect(dump(third.store)).toEqual(live);
    // Journal 0 was not replayed over the snapshot that includes it: each event once.
    expect(third.store.ledger.snapshot().events).toHaveLength(11);
    // The stale journal is gone; the torn one is never appended to again (a new generation).
    expect(await listJournals(path)).toEqual([2]);
    meterEvent(third.store, "next", 1);
    await third.file.close();
    expect(await listJournals(path)).toEqual([2, 3]);
  });

  it("closing during a compaction abandons it without losing a change", async () => {
    const path = await stateFilePath();
    const { store, file } = await openStore(path);
    for (let i = 0; i < 20_000; i++) meterEvent(store, `e-${i}`);
    const compaction = file.compact();
    await new Promise((resolve) => setImmediate(resolve));
    meterEvent(store, "while-closing", 2);
    const live = dump(store);
    await file.close();
    await compaction;
    expect((await readdir(join(path, ".."))).filter((name) => name.endsWith(".tmp"))).toEqual([]);

    const reloaded = await openStore(path);
    expect(dump(reloaded.store)).toEqual(live);
  });
});
