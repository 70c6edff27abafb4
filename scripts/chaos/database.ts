import { randomBytes } from "node:crypto";
import pg from "pg";
import { type Database, openDatabase } from "../../src/db/connect.ts";
import { migrate } from "../../src/db/migrate.ts";

/** The run's own database: its name, its URL (what the workers get), an open handle. */
export interface ChaosDatabase {
  name: string;
  url: string;
  database: Database;
  /** Closes the handle and, unless kept, drops the database. */
  close(keep: boolean): Promise<void>;
}

/**
 * Creates a fresh, migrated database on the server behind `adminUrl`. A random name, so runs
 * never share state and a crashed run's leftovers are easy to spot (meterline_chaos_*).
 */
export async function createChaosDatabase(adminUrl: string): Promise<ChaosDatabase> {
  const name = `meterline_chaos_${randomBytes(5).toString("hex")}`;
  await adminQuery(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let database: Database;
  try {
    database = await openDatabase({ url: url.toString(), poolSize: 5 });
    await migrate(database);
  } catch (err) {
    await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    throw err;
  }
  return {
    name,
    url: url.toString(),
    database,
    async close(keep) {
      await database.close();
      // `with (force)`: a worker that outlived its stop must not keep the database alive.
      if (!keep) await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    },
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
