/**
 * A fresh database per benchmark run, so no run measures another's leftovers: PGlite in a new
 * temporary folder (on disk, as `npm start` keeps it), or a new Postgres database created in
 * the admin URL's server. Dropped afterwards either way. (test/support/db.ts does the same for
 * tests; benchmarks do not import test code.)
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import pg from "pg";
import { type Database, type Db, openDatabase } from "../../src/db/connect.ts";
import { migrate } from "../../src/db/migrate.ts";
import type { Engine } from "../options.ts";
import { withApplicationName } from "./postgres-cpu.ts";

/** The pool size `meterline start`/`serve`/`worker` use (openDatabase's default). */
export const POSTGRES_POOL_SIZE = 10;

/** Where a fresh, still empty database lives, and how to get rid of it. */
export interface DatabaseTarget {
  engine: Engine;
  /** The environment that points Meterline's own config at it (loadConfig). */
  env: { DATABASE_URL: string } | { METERLINE_DATA_DIR: string };
  /** Postgres URL; null for PGlite. */
  url: string | null;
  /** PGlite's folder (the one openDatabase and startSystem use inside the data dir). */
  pgliteDir: string | null;
  /** Removes the database (drops it, or deletes the folder). */
  drop(): Promise<void>;
}

/** Creates an empty database on `engine`. */
export async function createTarget(engine: Engine, adminUrl: string): Promise<DatabaseTarget> {
  if (engine === "pglite") {
    const dataDir = await mkdtemp(join(tmpdir(), "meterline-bench-"));
    return {
      engine,
      env: { METERLINE_DATA_DIR: dataDir },
      url: null,
      // startSystem keeps PGlite in <data dir>/pglite: the same place, so either may open it.
      pgliteDir: join(dataDir, "pglite"),
      drop: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `meterline_bench_${randomBytes(5).toString("hex")}`;
  await adminQuery(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    engine,
    env: { DATABASE_URL: url.toString() },
    url: url.toString(),
    pgliteDir: null,
    drop: () => adminQuery(adminUrl, `drop database if exists ${name} with (force)`),
  };
}

/** An open, migrated database of its own; `close()` closes and removes it. */
export interface BenchDatabase {
  database: Database;
  target: DatabaseTarget;
  close(): Promise<void>;
}

/** The application_name of the bench's own connections (its backends are not Meterline's). */
export const BENCH_APP = "meterline-bench";

/**
 * Opens (and migrates) the database of `target` from the bench. On PGlite this takes the data
 * folder's lock: close it before a Meterline process opens the same folder.
 */
export async function openTarget(target: DatabaseTarget): Promise<Database> {
  const database =
    target.url !== null
      ? await openDatabase({
          url: withApplicationName(target.url, BENCH_APP),
          poolSize: POSTGRES_POOL_SIZE,
        })
      : await openDatabase({ dataDir: target.pgliteDir });
  try {
    await migrate(database);
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
  return database;
}

/**
 * VACUUM ANALYZE of the tables a bench seeded, before it measures: CI's Postgres runs with
 * autovacuum off, so without it the planner would see no statistics and every page would
 * still need its hint bits set by the first reader (the measured one).
 */
export async function vacuumAnalyze(db: Db, tables: readonly string[]): Promise<void> {
  for (const table of tables) {
    if (!/^[a-z_]+$/.test(table)) throw new Error(`not a table name: ${table}`);
    await db.execute(sql.raw(`vacuum analyze ${table}`));
  }
}

/** Creates, opens and migrates a fresh database on `engine`. */
export async function freshDatabase(engine: Engine, adminUrl: string): Promise<BenchDatabase> {
  const target = await createTarget(engine, adminUrl);
  let database: Database | null = null;
  try {
    database = await openTarget(target);
  } catch (err) {
    await database?.close().catch(() => {});
    await target.drop();
    throw err;
  }
  const opened = database;
  return {
    database: opened,
    target,
    async close() {
      await opened.close();
      await target.drop();
    },
  };
}

/** Runs one statement on the admin database (create/drop database cannot run in a pool). */
export async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
