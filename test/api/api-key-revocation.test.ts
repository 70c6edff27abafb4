import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Database, openDatabase } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { sqlClient } from "../../src/db/sql-client.ts";
import { API_KEY_CACHE_TTL_MS, openApiKeyCache } from "../../src/http/api-key-cache.ts";
import { createApiKey, revokeApiKey } from "../../src/ops/api-keys.ts";
import { describeOnPostgres } from "../support/db.ts";
import { waitFor } from "../support/wait.ts";
import { startApi, type TestApi } from "./harness.ts";

/**
 * Several API processes share one Postgres. Each test stands for a second process with a
 * Database handle of its own (another pool, other connections): a revocation made through it
 * reaches this process's cache only through the server (NOTIFY) or the cache's TTL.
 */
describeOnPostgres("API key revocation across connections", () => {
  let api: TestApi;
  let other: Database;
  beforeAll(async () => {
    api = await startApi("postgres");
    const url = sqlClient(api.db).connectionConfig?.connectionString;
    if (url === undefined) throw new Error("no connection string behind the test database");
    other = await openDatabase({ url, poolSize: 2 });
  });
  afterAll(async () => {
    await other?.close();
    await api?.close();
  });

  const as = (secret: string) => ({ authorization: `Bearer ${secret}` });
  const status = async (secret: string) =>
    (await api.app.inject({ method: "GET", url: "/v1/meters", headers: as(secret) })).statusCode;

  it("the API refuses a key another process revoked, within the cache's bound", async () => {
    const key = await createApiKey(other.db, { name: "elsewhere", role: "admin" });
    expect(await status(key.secret)).toBe(200);
    expect(await status(key.secret)).toBe(200);
    await revokeApiKey(other.db, key.id);
    await waitFor(
      "the revoked key refused (401)",
      async () => (await status(key.secret)) === 401,
      API_KEY_CACHE_TTL_MS + 1_000,
    );
  });

  it("the revocation arrives by NOTIFY: a cache whose TTL is a minute hears it", async () => {
    const cache = openApiKeyCache(api.db, 60_000);
    try {
      const key = await createApiKey(other.db, { name: "notified", role: "ingest" });
      expect((await cache.verify(key.secret))?.id).toBe(key.id);
      await revokeApiKey(other.db, key.id);
      // Only the notification can make it null before the minute is out.
      await waitFor(
        "the revoked key refused",
        async () => (await cache.verify(key.secret)) === null,
        10_000,
      );
    } finally {
      await cache.close();
    }
  });

  it("a revocation nobody notified (SQL by hand) is refused once the TTL has passed", async () => {
    const cache = openApiKeyCache(api.db, 300);
    try {
      const key = await createApiKey(other.db, { name: "by hand", role: "ingest" });
      expect((await cache.verify(key.secret))?.id).toBe(key.id);
      await other.db.execute(sql`update api_keys set revoked_at = now() where id = ${key.id}`);
      await waitFor(
        "the revoked key refused",
        async () => (await cache.verify(key.secret)) === null,
        5_000,
      );
    } finally {
      await cache.close();
    }
  });

  it("after its LISTEN connection is killed, the cache listens again and hears revocations", async () => {
    const cache = openApiKeyCache(api.db, 60_000);
    try {
      const listeners = () =>
        rows<{ pid: number }>(
          other.db,
          sql`select pid from pg_stat_activity
              where datname = current_database() and query ilike 'listen meterline_api_keys%'`,
        );
      const key = await createApiKey(other.db, { name: "after reconnect", role: "ingest" });
      // The first lookup starts the cache's LISTEN.
      expect((await cache.verify(key.secret))?.id).toBe(key.id);
      const before = await listeners();
      expect(before.length).toBeGreaterThan(0);
      // Kill every listener of this database (the app's and this cache's): each must come back.
      await other.db.execute(
        sql`select pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and query ilike 'listen meterline_api_keys%'`,
      );
      const oldPids = new Set(before.map((r) => r.pid));
      await waitFor(
        "every listener back on a new connection",
        async () => {
          const now = await listeners();
          return now.length >= before.length && now.every((r) => !oldPids.has(r.pid));
        },
        10_000,
      );
      expect((await cache.verify(key.secret))?.id).toBe(key.id);
      await revokeApiKey(other.db, key.id);
      await waitFor(
        "the revoked key refused",
        async () => (await cache.verify(key.secret)) === null,
        10_000,
      );
    } finally {
      await cache.close();
    }
  });
});
