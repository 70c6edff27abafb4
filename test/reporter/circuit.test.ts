import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Database, openDatabase } from "../../src/db/connect.ts";
import { migrate } from "../../src/db/migrate.ts";
import { rows } from "../../src/db/rows.ts";
import { fromMetersList } from "../../src/reporter/account-probe.ts";
import { fromMeterEvents } from "../../src/reporter/sinks/meter-events.ts";
import { type Reporter, startReporter } from "../../src/reporter/worker.ts";
import { describeOnPostgres, emptyPostgresDatabase } from "../support/db.ts";
import {
  declareMeter,
  emulator,
  KEY,
  linkedCustomers,
  memoryLogger,
  pendingCount,
  reportedSums,
  testSettings,
} from "./harness.ts";
import { insertEvents, statusCounts, waitFor } from "./seed.ts";

describeOnPostgres("the account circuit across two workers", () => {
  let a: Database;
  let b: Database;
  let drop: () => Promise<void>;
  let env: Awaited<ReturnType<typeof emulator>>;
  beforeAll(async () => {
    const target = await emptyPostgresDatabase();
    drop = target.drop;
    // Two pools, as two processes would have.
    a = await openDatabase({ url: target.url, poolSize: 5 });
    b = await openDatabase({ url: target.url, poolSize: 5 });
    await migrate(a);
    env = await emulator();
  });
  afterAll(async () => {
    await env.emu.close();
    await a.close();
    await b.close();
    await drop();
  });

  it("a revoked key stops both: one probe per interval between them, nothing failed or charged; both resume once it works", async () => {
    const { stripe, emu } = env;
    await declareMeter(a.db, stripe, "circ");
    const linked = await linkedCustomers(a.db, stripe, "circ", 10);
    await insertEvents(
      a.db,
      Array.from({ length: 300 }, (_, i) => ({
        id: `circ-${i}`,
        customerKey: linked[i % 10]?.key ?? "circ-0",
        eventName: "circ",
        value: 1,
        occurredAt: new Date(Date.now() - 60_000),
      })),
    );
    const probeMs = 400;
    const start = (db: Database, id: string): Reporter =>
      startReporter({
        db: db.db,
        settings: testSettings({ id, haltProbeMs: probeMs }),
        sinkFor: (mode) => (mode === "meter_events" ? fromMeterEvents(stripe) : undefined),
        logger: memoryLogger(),
        probeAccount: fromMetersList(stripe),
      });
    emu.revokeKey(KEY);
    const one = start(a, "circ-a");
    const two = start(b, "circ-b");
    try {
      await waitFor(
        "both halted",
        async () => one.status().halted !== null && two.status().halted !== null,
      );
      expect(one.status().halted?.scope).toBe("account");
      expect(two.status().halted?.reason).toMatch(/401/);

      // Watch the halted attempts for a while: at most one probe per interval between them
      // (plus what each had in flight when the 401s came back).
      const halted = async () => {
        const [r] = await rows<{ n: number }>(
          a.db,
          sql`select count(*)::int as n from usage_event_attempts where outcome = 'halted'`,
        );
        return r?.n ?? 0;
      };
      // The sends already in flight when the first 401 came back settle as halted too: let them.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const before = await halted();
      const watchMs = 2_000;
      await new Promise((resolve) => setTimeout(resolve, watchMs));
      const probes = (await halted()) - before;
      const trail = await rows<{ worker: string; at: string }>(
        a.db,
        sql`select worker, started_at::text as at from usage_event_attempts
            where outcome = 'halted' order by id`,
      );
      expect(probes, JSON.stringify(trail)).toBeLessThanOrEqual(Math.ceil(watchMs / probeMs) + 2);

      expect(await statusCounts(a.db)).toEqual({ pending: 300 });
      const [charged] = await rows<{ n: number }>(
        a.db,
        sql`select coalesce(sum(attempts), 0)::int as n from usage_events`,
      );
      expect(charged?.n).toBe(0);
      expect(emu.ledger().events).toEqual([]);

      emu.restoreKey(KEY);
      await waitFor(
        "both resumed",
        async () => one.status().halted === null && two.status().halted === null,
        probeMs * 10 + 10_000,
      );
      await waitFor("the queue to empty", async () => (await pendingCount(a.db)) === 0);
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
    expect(await statusCounts(a.db)).toEqual({ reported: 300 });
    expect(emu.ledger().events).toHaveLength(300);
    expect(emu.ledger().totals).toEqual(await reportedSums(a.db));
    const [open] = await rows<{ n: number }>(
      a.db,
      sql`select count(*)::int as n from reporter_circuits`,
    );
    expect(open?.n).toBe(0);
  });
});
