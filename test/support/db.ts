import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { SQL } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, inject } from "vitest";
import { type Database, openDatabase } from "../../src/db/connect.ts";
import { migrate } from "../../src/db/migrate.ts";
import { rows } from "../../src/db/rows.ts";

/** The database engines a suite runs on: PGlite always, Postgres too when DATABASE_URL is set. */
export const backends: Array<Database["kind"]> = process.env.DATABASE_URL
  ? ["pglite", "postgres"]
  : ["pglite"];

/** A migrated, empty database of its own for one suite; `close()` drops it. */
export async function freshDatabase(kind: Database["kind"]): Promise<Database> {
  if (kind === "pglite") {
    // From the migrated template (global-setup.ts); migrate() then finds nothing left to apply.
    const from = new Blob([readFileSync(inject("pgliteTemplate"))]);
    const database = await openDatabase({ dataDir: null, from });
    await migrate(database);
    return database;
  }
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error("freshDatabase('postgres') needs DATABASE_URL");
  const name = `meterline_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), poolSize: 20 });
  await migrate(database);
  return {
    ...database,
    async close() {
      await database.close();
      await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

/**
 * For the describe block that calls it: a fresh database of `kind`, seeded by `statements` in
 * their order before its tests (a plan test's last is its ANALYZE), and closed after them. The
 * function it returns gives the database, inside a test.
 */
export function seededDatabase(kind: Database["kind"], statements: SQL[]): () => Database {
  let database: Database | undefined;
  beforeAll(async () => {
    database = await freshDatabase(kind);
    for (const statement of statements) await rows(database.db, statement);
  }, 120_000);
  afterAll(() => database?.close());
  return () => {
    if (database === undefined) throw new Error("seededDatabase: read it inside a test");
    return database;
  };
}

/** The URL of a new empty (unmigrated) Postgres database, and a function that drops it. */
export async function emptyPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error("emptyPostgresDatabase needs DATABASE_URL");
  const name = `meterline_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(adminUrl, `drop database if exists ${name} with (force)`),
  };
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * A suite that needs a Postgres server (several connections, several processes).
 * Skipped without DATABASE_URL — PGlite is one connection in one process — and the global
 * setup lists every such suite by name, so the skip is never silent.
 */
export const describeOnPostgres = (name: string, fn: () => void) =>
  describe.skipIf(!process.env.DATABASE_URL)(`${name} [postgres only]`, fn);
