import { PGlite, parse, protocol } from "@electric-sql/pglite";
import pg from "pg";
import type { Db } from "./connect.ts";

/**
 * Hand-written SQL straight to the driver, for hot paths where the query builder's cost shows
 * (ingest: one statement per request). Drizzle keeps the driver as `db.$client`; this port
 * hides which one it is.
 */
export interface SqlClient {
  /**
   * Runs one statement and returns its rows. `name` makes it a prepared statement: each pooled
   * connection (or the PGlite instance) parses and plans it once, not per request. One name,
   * one text, always.
   */
  query<T>(name: string, text: string, values: readonly unknown[]): Promise<T[]>;
  /** How to open a connection of one's own to the same server (LISTEN); null on PGlite. */
  connectionConfig: pg.ClientConfig | null;
}

// One adapter per handle: building it is cheap, but the hot path should not do it per request.
const clients = new WeakMap<Db, SqlClient>();

/** The driver behind a Drizzle handle (a pg pool or client, or PGlite). */
export function sqlClient(db: Db): SqlClient {
  let client = clients.get(db);
  if (client === undefined) {
    client = fromDriver((db as unknown as { $client?: unknown }).$client);
    clients.set(db, client);
  }
  return client;
}

function fromDriver(driver: unknown): SqlClient {
  if (driver instanceof PGlite) return fromPglite(driver);
  if (driver instanceof pg.Pool || driver instanceof pg.Client) return fromPg(driver);
  // A handle with no known driver (a test double) fails when used, not when an app is built.
  return {
    async query() {
      throw new Error("sqlClient: the database handle has no pg or PGlite driver ($client)");
    },
    connectionConfig: null,
  };
}

function fromPglite(driver: PGlite): SqlClient {
  return {
    query: (name, text, values) => queryPrepared(driver, name, text, values),
    connectionConfig: null,
  };
}

// Statements prepared in each PGlite instance (one connection: a name is prepared once).
const preparedIn = new WeakMap<PGlite, Set<string>>();

/**
 * Runs a named prepared statement on PGlite with one protocol exchange. `PGlite.query` parses
 * and plans the statement anew each time in six exchanges with the WASM backend (~3 ms of this
 * thread for ingest's statement, against ~0.7 ms here). Parameters go as text (toText); no
 * statement text is ever built from data.
 */
async function queryPrepared<T>(
  driver: PGlite,
  name: string,
  text: string,
  values: readonly unknown[],
): Promise<T[]> {
  let prepared = preparedIn.get(driver);
  if (prepared === undefined) {
    prepared = new Set();
    preparedIn.set(driver, prepared);
  }
  const known = prepared;
  const { serialize } = protocol;
  // The same two locks as PGlite.query, in its order: never inside another caller's open
  // transaction (between its statements), never interleaved with another statement's messages.
  return driver._runExclusiveTransaction(() =>
    driver._runExclusiveQuery(async () => {
      if (!known.has(name)) {
        await driver.execProtocol(concat([serialize.parse({ name, text }), serialize.sync()]));
        known.add(name);
      }
      const bind = serialize.bind({ statement: name, values: values.map(toText) });
      const { messages } = await driver.execProtocol(
        concat([bind, serialize.describe({ type: "P" }), serialize.execute({}), serialize.sync()]),
      );
      return (parse.parseResults(messages, driver.parsers)[0]?.rows ?? []) as T[];
    }),
  );
}

/** A parameter in Postgres's text format; arrays as array literals, every element quoted. */
export function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value)) return scalarText(value);
  let literal = "{";
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (i > 0) literal += ",";
    if (item === null || item === undefined) {
      literal += "NULL";
      continue;
    }
    const text = scalarText(item);
    // Inside double quotes only " and \ need a backslash (arrays of arrays are not needed here).
    literal += NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPED, "\\$&")}"` : `"${text}"`;
  }
  return `${literal}}`;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

function scalarText(value: unknown): string {
  if (typeof value === "boolean") return value ? "t" : "f";
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function fromPg(driver: pg.Pool | pg.Client): SqlClient {
  // A Pool keeps its settings in `options`; a Client (a locked session) is used as it is.
  const options =
    driver instanceof pg.Pool ? (driver as pg.Pool & { options: pg.PoolConfig }).options : null;
  return {
    async query<T>(name: string, text: string, values: readonly unknown[]) {
      // Serialised here as on PGlite: cheaper than pg's own array escaping, and the same text.
      const result = await driver.query({ name, text, values: values.map(toText) });
      return result.rows as T[];
    },
    connectionConfig: options === null ? null : { ...options },
  };
}
