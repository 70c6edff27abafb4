import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { describeOnPostgres, freshDatabase } from "../support/db.ts";

// Every pooled connection runs without JIT (db/connect.ts): with it, the rescue's statement,
// planned for every claim row the table might hold, was compiled on each run (45-68 ms of the
// server's CPU for 0.1 ms of work). The server's own default is on.
describeOnPostgres("the Postgres sessions", () => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase("postgres");
  });
  afterAll(() => database?.close());

  it("run without JIT, whatever the server's default", async () => {
    const settings = await Promise.all(
      Array.from({ length: 8 }, () =>
        database.withAdvisoryLock(7_001, (db) =>
          rows<{ jit: string }>(db, sql`select current_setting('jit') as jit`),
        ),
      ),
    );
    expect(settings.flat().map((s) => s.jit)).toEqual(Array(8).fill("off"));
    const [server] = await rows<{ jit: string }>(
      database.db,
      sql`select boot_val as jit from pg_settings where name = 'jit'`,
    );
    expect(server?.jit).toBe("on");
  });
});
