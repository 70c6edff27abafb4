import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/connect.ts";
import { migrate } from "../src/db/migrate.ts";
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
