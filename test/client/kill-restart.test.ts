import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MeterlineClient, type MeterlineError } from "../../packages/client/src/index.ts";
import { type Database, openDatabase } from "../../src/db/connect.ts";
import { migrate } from "../../src/db/migrate.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { createApiKey } from "../../src/ops/api-keys.ts";
import { backends, emptyPostgresDatabase } from "../support/db.ts";
import { METERLINE_BIN } from "../support/start-env.ts";

const EVENTS = 50_000;
const CUSTOMERS = 10;

/** A port free now, for a server that must come back on the same one after each kill. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * Where the server keeps its events: a Postgres database of its own, or a PGlite folder. The test
 * process opens it only while the server is down (PGlite allows one process at a time).
 */
async function serverDatabase(kind: Database["kind"]) {
  if (kind === "postgres") {
    const made = await emptyPostgresDatabase();
    return {
      env: { DATABASE_URL: made.url },
      open: () => openDatabase({ url: made.url, poolSize: 2 }),
      drop: made.drop,
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), "meterline-client-kill-"));
  return {
    env: { DATABASE_URL: "", METERLINE_DATA_DIR: dataDir },
    open: () => openDatabase({ dataDir: join(dataDir, "pglite") }),
    drop: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

// Both engines: a 202 survives the server's SIGKILL on each (README, "What accepted guarantees").
describe.each(backends)(
  "the client while the server (%s) is SIGKILLed and restarted twice",
  (kind) => {
    let target: Awaited<ReturnType<typeof serverDatabase>>;
    let apiKey: string;
    let port: number;
    let server: ChildProcess | null = null;

    beforeAll(async () => {
      target = await serverDatabase(kind);
      const database = await target.open();
      try {
        await migrate(database);
        await database.db
          .insert(customers)
          .values(Array.from({ length: CUSTOMERS }, (_, i) => ({ key: `kr-${i}` })));
        await database.db.insert(meters).values({ eventName: "api_calls" });
        apiKey = (await createApiKey(database.db, { name: "producer", role: "ingest" })).secret;
      } finally {
        await database.close();
      }
      port = await freePort();
    });
    afterAll(async () => {
      server?.kill("SIGKILL");
      await target?.drop();
    });

    /** `meterline serve` (the API only) on the fixed port; resolves once it answers /healthz. */
    async function startServer(): Promise<void> {
      const child = spawn(process.execPath, [METERLINE_BIN, "serve"], {
        env: { ...process.env, ...target.env, PORT: String(port), LOG_LEVEL: "warn" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      child.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
      server = child;
      for (let i = 0; i < 600; i++) {
        if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}`);
        const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (up) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("serve did not come up");
    }

    async function killServer(): Promise<void> {
      const child = server;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    }

    it("stores every one of 50,000 events exactly once", async () => {
      await startServer();
      const kills: number[] = [];
      const restarts: Array<Promise<void>> = [];
      // A kill lands while a batch is in flight: so many ms after the next request leaves, the
      // server dies — before its commit, or after it with the answer lost.
      let killAfterMs: number | null = null;
      const inFlightKill = (input: string | URL | Request, init?: RequestInit) => {
        const answer = fetch(input, init);
        if (killAfterMs !== null) {
          const ms = killAfterMs;
          killAfterMs = null;
          setTimeout(() => {
            kills.push(Date.now());
            restarts.push(
              killServer()
                .then(() => new Promise((r) => setTimeout(r, 300)))
                .then(startServer),
            );
          }, ms);
        }
        return answer;
      };
      const errors: MeterlineError[] = [];
      const client = new MeterlineClient({
        url: `http://127.0.0.1:${port}`,
        apiKey,
        maxBatchSize: 500,
        flushIntervalMs: 20,
        fetch: inFlightKill as typeof fetch,
        backoff: { baseMs: 50, maxMs: 500 },
        onError: (e) => errors.push(e),
      });
      let expected = 0;
      for (let i = 0; i < EVENTS; i++) {
        const value = (i % 7) + 1;
        expected += value;
        await client.track({ customer: `kr-${i % CUSTOMERS}`, event_name: "api_calls", value });
        // Paced, so that batches keep leaving; the kills come at 30 % and 65 % of the events.
        if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 10));
        if (i === 15_000) killAfterMs = 2;
        if (i === 32_500) killAfterMs = 12;
      }
      await expect.poll(() => restarts.length, { timeout: 30_000 }).toBe(2);
      await Promise.all(restarts);
      const { stats, unsent } = await client.close({ timeoutMs: 120_000 });

      expect(unsent).toEqual([]);
      expect(stats).toMatchObject({ sent: EVENTS, rejected: 0, dropped: 0, queued: 0 });
      // The kills were felt: sends failed and were retried.
      expect(kills).toHaveLength(2);
      expect(errors.filter((e) => e.name === "TransientError").length).toBeGreaterThan(0);
      expect(errors.filter((e) => e.name !== "TransientError")).toEqual([]);
      await killServer();
      const database = await target.open();
      const [found] = await rows<{ n: number; ids: number; total: string }>(
        database.db,
        sql`select count(*)::int as n, count(distinct id)::int as ids, sum(value)::text as total
            from usage_events`,
      ).finally(() => database.close());
      expect(found).toEqual({ n: EVENTS, ids: EVENTS, total: String(expected) });
    });
  },
);
