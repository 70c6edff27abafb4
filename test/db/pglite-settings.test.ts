import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";

// The embedded database's Postgres runs with PGlite's own start parameters (fsync off) and
// full_page_writes off (connect.ts, PGLITE_SETTINGS), in a folder and in memory alike.
describe("the embedded database's settings", () => {
  it("fsync and full_page_writes are off; the rest of PGlite's start parameters hold", async () => {
    const dir = mkdtempSync(join(tmpdir(), "meterline-pglite-settings-"));
    try {
      for (const dataDir of [join(dir, "data"), null]) {
        const database = await openDatabase({ dataDir });
        try {
          const [row] = await rows<Record<string, string>>(
            database.db,
            sql`select current_setting('fsync') as fsync,
                       current_setting('full_page_writes') as full_page_writes,
                       current_setting('search_path') as search_path,
                       current_setting('max_worker_processes') as max_worker_processes`,
          );
          expect(row).toEqual({
            fsync: "off",
            full_page_writes: "off",
            search_path: "public",
            max_worker_processes: "0",
          });
        } finally {
          await database.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
