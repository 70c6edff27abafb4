import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database, Db } from "../../src/db/connect.ts";
import { preparedRows } from "../../src/db/prepared.ts";
import { rows } from "../../src/db/rows.ts";
import { backends, freshDatabase } from "../support/db.ts";

describe.each(backends)("prepared statements (preparedRows), on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
    await rows(database.db, sql`create table probe (id int primary key, note text)`);
  });
  afterAll(async () => {
    await database.close();
  });

  it("runs a named statement again and again with new values, on every pooled connection", async () => {
    const calls = Array.from({ length: 30 }, (_, i) =>
      preparedRows<{ n: number; s: string }>(
        database.db,
        "test_probe_echo",
        sql`select ${i}::int as n, ${`v${i}`}::text as s`,
      ),
    );
    const answers = await Promise.all(calls);
    expect(answers.map(([r]) => r)).toEqual(
      Array.from({ length: 30 }, (_, i) => ({ n: i, s: `v${i}` })),
    );
  });

  it("refuses a name met with another text: a query built per call never runs under another's plan", async () => {
    await preparedRows(database.db, "test_probe_once", sql`select ${1}::int as n`);
    await expect(
      preparedRows(database.db, "test_probe_once", sql`select ${1}::int as n, 2 as m`),
    ).rejects.toThrow(/test_probe_once: the text differs/);
  });

  it("given a transaction's handle, runs inside that transaction", async () => {
    await database.db
      .transaction(async (tx) => {
        await preparedRows(
          tx as unknown as Db,
          "test_probe_insert",
          sql`insert into probe (id, note) values (${1}::int, ${"rolled back"}::text) returning id`,
        );
        const seen = await rows<{ n: number }>(
          tx as unknown as Db,
          sql`select count(*)::int as n from probe`,
        );
        expect(seen[0]?.n).toBe(1);
        throw new Error("roll back");
      })
      .catch((err: Error) => expect(err.message).toBe("roll back"));
    const after = await rows<{ n: number }>(database.db, sql`select count(*)::int as n from probe`);
    expect(after[0]?.n).toBe(0);
  });
});
