import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import { describe, inject } from "vitest";
import { type Database, openDatabase } from "../../src/db/connect.ts";
import { migrate } from "../../src/db/migrate.ts";

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
