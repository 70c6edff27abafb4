import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import pg from "pg";
import { startAutoAnalyze } from "./auto-analyze.ts";
import { lockDataDir } from "./pglite-lock.ts";
import * as schema from "./schema/index.ts";

/** The one database handle the code uses, whether PGlite or Postgres is behind it. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** An open database: the Drizzle handle, what is behind it, and how to close it. */
export interface Database {
  db: Db;
  kind: "pglite" | "postgres";
  /** Runs `fn` holding a session-level advisory lock (Postgres); PGlite is single-process. */
  withAdvisoryLock<T>(lockId: number, fn: (db: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Where to connect: a Postgres URL, or PGlite in a folder (or in memory when dataDir is null).
 * `from` starts a PGlite database from a dump (`dumpDataDir`) instead of creating one: a second
 * instead of three or four, which a test suite per database notices.
 */
export type DatabaseTarget =
  | { url: string; poolSize?: number }
  | { dataDir: string | null; from?: Blob };

/** Opens Postgres when given a URL, otherwise embedded PGlite. */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  return "url" in target
    ? fromPostgres(target.url, target.poolSize ?? 10)
    : fromPglite(target.dataDir, target.from);
}

async function fromPglite(dataDir: string | null, from: Blob | undefined): Promise<Database> {
  const unlock = dataDir === null ? () => {} : lockDataDir(dataDir);
  const options = from ? { loadDataDir: from } : {};
  const client = dataDir === null ? new PGlite(options) : new PGlite(dataDir, options);
  try {
    await client.waitReady;
  } catch (err) {
    unlock();
    throw err;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  // No autovacuum in PGlite: this process keeps the planner's statistics fresh (auto-analyze.ts).
  const stopAnalyze = startAutoAnalyze(
    async (text, params) => (await client.query<never>(text, params)).rows,
    "pglite",
  );
  return {
    db,
    kind: "pglite",
    // One PGlite instance is one connection in one process: nothing else can race it.
    withAdvisoryLock: (_lockId, fn) => fn(db),
    async close() {
      await stopAnalyze();
      await client.close();
      unlock();
    },
  };
}

async function fromPostgres(url: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // No JIT: Postgres compiles a statement whose estimated cost passes jit_above_cost, and our
    // statements are short ones planned for more rows than they meet. The rescue (planned for
    // every claim row the table might hold, each looked up by key) was compiled on each run:
    // 45-68 ms of the server's CPU for 0.1 ms of work, 2 runs a second per worker.
    options: "-c jit=off",
  });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  // Where the server's autovacuum is off, this process does its analyze (auto-analyze.ts).
  const stopAnalyze = startAutoAnalyze(
    async (text, params) => (await pool.query(text, params)).rows,
    "postgres",
  );
  return {
    db,
    kind: "postgres",
    async withAdvisoryLock(lockId, fn) {
      // Session-level locks belong to one connection, so the work runs on that same client.
      const client = await pool.connect();
      try {
        await client.query("select pg_advisory_lock($1)", [lockId]);
        try {
          return await fn(drizzlePg(client, { schema }) as unknown as Db);
        } finally {
          await client.query("select pg_advisory_unlock($1)", [lockId]);
        }
      } finally {
        client.release();
      }
    },
    async close() {
      await stopAnalyze();
      await pool.end();
    },
  };
}
