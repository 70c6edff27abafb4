import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/connect.ts";
import { migrate, migrationsFolder } from "../src/db/migrate.ts";
import { rows } from "../src/db/rows.ts";
import {
  backends,
  describeOnPostgres,
  emptyPostgresDatabase,
  freshDatabase,
} from "./support/db.ts";

describe.each(backends)("migrations on %s", (kind) => {
  it("create every table, and applying them again changes nothing", async () => {
    const database = await freshDatabase(kind);
    try {
      // freshDatabase migrated it already: nothing is left to apply.
      expect(await migrate(database)).toEqual({ applied: 0 });
      const tables = await rows<{ table_name: string }>(
        database.db,
        sql`select table_name::text from information_schema.tables where table_schema = 'public' order by 1`,
      );
      expect(tables.map((r) => r.table_name)).toEqual([
        "api_keys",
        "async_rejections",
        "attach_checkpoints",
        "attach_refusals",
        "customers",
        "meters",
        "reconciliations",
        "reporter_circuits",
        "retention_runs",
        "stripe_events",
        "subscription_items",
        "usage_event_attempts",
        "usage_event_claims",
        "usage_event_counts",
        "usage_event_requests",
        "usage_events",
        "workers",
      ]);
    } finally {
      await database.close();
    }
  });
});

describeOnPostgres("concurrent migrations", () => {
  it("two processes migrating one empty database at once both succeed", async () => {
    const { url, drop } = await emptyPostgresDatabase();
    const a = await openDatabase({ url });
    const b = await openDatabase({ url });
    try {
      const [first, second] = await Promise.all([migrate(a), migrate(b)]);
      const applied = await rows<{ n: number }>(
        a.db,
        sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
      );
      expect(applied[0]?.n).toBeGreaterThan(0);
      // One applied them all, under the lock; the other found nothing left and says so.
      expect([first?.applied, second?.applied].sort()).toEqual([0, applied[0]?.n]);
    } finally {
      await a.close();
      await b.close();
      await drop();
    }
  });
});

describe.each(backends)("migration 0013 on %s", (kind) => {
  it("sums the differences of the runs stored before it into drift_total", async () => {
    const database = await freshDatabase(kind);
    try {
      await rows(
        database.db,
        sql`insert into reconciliations (range_start, range_end, ran_by, finished_at, drift)
            values (now(), now(), 'old', now(), '[{"difference": -3}, {"difference": 7}]'::jsonb),
                   (now(), now(), 'old', now(), '[]'::jsonb)`,
      );
      // The migration's own backfill statement, as a database migrated before it meets it.
      const text = readFileSync(
        join(migrationsFolder, "0013_reconciliation_drift_total.sql"),
        "utf8",
      );
      const backfill = text.split("--> statement-breakpoint")[1] ?? "";
      expect(backfill).toContain("UPDATE");
      await rows(database.db, sql.raw(backfill));
      const totals = await rows<{ drift_total: string }>(
        database.db,
        sql`select drift_total::text from reconciliations order by id`,
      );
      expect(totals.map((t) => t.drift_total)).toEqual(["10", "0"]);
    } finally {
      await database.close();
    }
  });
});
