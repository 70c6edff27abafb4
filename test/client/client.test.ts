import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EventRejectedError,
  MeterlineClient,
  type MeterlineError,
  RequestRefusedError,
  type TransientError,
} from "../../packages/client/src/index.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { createApiKey, revokeApiKey } from "../../src/ops/api-keys.ts";
import { startApi, type TestApi } from "../api/harness.ts";

/**
 * What a proxy in front of the real API does to one request: pass it, answer for the server
 * (a 503 or 429 with Retry-After), pass it and then drop the answer (the batch is stored, the
 * client never hears), or hold it for a while.
 */
type Fault =
  | { kind: "pass" }
  | { kind: "answer"; status: number; retryAfter?: string }
  | { kind: "lose-answer" }
  | { kind: "delay"; ms: number };

/** An HTTP proxy to the API whose next requests meet the faults queued in `faults`. */
async function faultProxy(target: string) {
  const faults: Fault[] = [];
  const seen: Array<{ events: number; fault: Fault["kind"] }> = [];
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const fault = faults.shift() ?? { kind: "pass" };
    seen.push({
      events: (JSON.parse(body) as { events: unknown[] }).events.length,
      fault: fault.kind,
    });
    if (fault.kind === "answer") {
      res.writeHead(fault.status, {
        "content-type": "application/json",
        ...(fault.retryAfter ? { "retry-after": fault.retryAfter } : {}),
      });
      res.end(JSON.stringify({ error: { code: "unavailable", message: "try later" } }));
      return;
    }
    if (fault.kind === "delay") await new Promise((r) => setTimeout(r, fault.ms));
    const url = new URL(req.url ?? "/", target);
    const upstream = request(url, { method: req.method, headers: req.headers }, (answer) => {
      if (fault.kind === "lose-answer") {
        // Stored by the server; the client's socket is cut before it reads a byte.
        answer.resume();
        answer.on("end", () => res.socket?.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString()));
    req.on("error", reject);
  });
}

// The client runs anywhere fetch does; its behaviour against the server does not depend on the
// server's database, so one engine (the embedded one) is enough here. The kill-and-restart test
// runs the server on Postgres.
describe("the TypeScript client against the real API", () => {
  let api: TestApi;
  let apiUrl: string;
  beforeAll(async () => {
    api = await startApi("pglite");
    await api.db.insert(customers).values([{ key: "acme" }, { key: "globex" }]);
    await api.db.insert(meters).values({ eventName: "api_calls" });
    apiUrl = await api.app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(() => api.close());

  const stored = async (prefix: string) =>
    (
      await rows<{ n: number; total: number }>(
        api.db,
        sql`select count(*)::int as n, coalesce(sum(value), 0)::int as total
              from usage_events where id like ${`${prefix}%`}`,
      )
    )[0];

  it("batches by size and by time: 1,200 events go as 500 + 500 + 200, each stored once", async () => {
    const proxy = await faultProxy(apiUrl);
    const client = new MeterlineClient({
      url: proxy.url,
      apiKey: api.ingestKey,
      flushIntervalMs: 100,
    });
    try {
      for (let i = 0; i < 1200; i++) {
        await client.track({
          id: `size-${i}`,
          customer: "acme",
          event_name: "api_calls",
          value: 1,
        });
      }
      await client.flush();
      expect(proxy.seen.map((s) => s.events)).toEqual([500, 500, 200]);
      expect(await stored("size-")).toEqual({ n: 1200, total: 1200 });
      // One event alone goes when the interval passes, without a flush.
      await client.track({ id: "time-0", customer: "acme", event_name: "api_calls", value: 7 });
      await expect.poll(() => stored("time-"), { timeout: 5000 }).toEqual({ n: 1, total: 7 });
      // Stored before the answer reaches the client: wait for the answer too.
      await expect
        .poll(() => client.stats, { timeout: 5000 })
        .toMatchObject({ sent: 1201, rejected: 0, queued: 0 });
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("retries 503, 429 and a lost answer with the same ids, honouring Retry-After: each event stored once", async () => {
    const proxy = await faultProxy(apiUrl);
    proxy.faults.push(
      { kind: "answer", status: 503 },
      { kind: "answer", status: 429, retryAfter: "1" },
      { kind: "lose-answer" },
    );
    const errors: MeterlineError[] = [];
    const client = new MeterlineClient({
      url: proxy.url,
      apiKey: api.ingestKey,
      maxBatchSize: 50,
      backoff: { baseMs: 20, maxMs: 2000 },
      onError: (e) => errors.push(e),
    });
    try {
      const started = Date.now();
      for (let i = 0; i < 50; i++) {
        await client.track({ customer: "acme", event_name: "api_calls", value: 2 });
      }
      await client.flush();
      // The 429's Retry-After of 1 s was waited out.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(proxy.seen.map((s) => s.fault)).toEqual(["answer", "answer", "lose-answer", "pass"]);
      expect(errors.map((e) => [e.name, (e as TransientError).status])).toEqual([
        ["TransientError", 503],
        ["TransientError", 429],
        ["TransientError", 0],
      ]);
      // The same 50 client-made ids went four times; the server stored them once.
      const [made] = await rows<{ n: number; total: number }>(
        api.db,
        sql`select count(*)::int as n, sum(value)::int as total from usage_events where value = 2`,
      );
      expect(made).toEqual({ n: 50, total: 100 });
      expect(client.stats).toMatchObject({ sent: 50, retries: 3 });
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("drops only the events the server refuses, names them, and stores the rest of their batch", async () => {
    const errors: MeterlineError[] = [];
    const client = new MeterlineClient({
      url: apiUrl,
      apiKey: api.ingestKey,
      onError: (e) => errors.push(e),
    });
    await client.track({ id: "rej-0", customer: "acme", event_name: "api_calls", value: 1 });
    await client.track({ id: "rej-1", customer: "nobody", event_name: "api_calls", value: 1 });
    await client.track({ id: "rej-2", customer: "globex", event_name: "api_calls", value: 1 });
    await client.track({ id: "rej-3", customer: "acme", event_name: "api_calls", value: -4 });
    const { stats, unsent } = await client.close();
    expect(await stored("rej-")).toEqual({ n: 2, total: 2 });
    const rejected = errors.filter((e) => e instanceof EventRejectedError);
    expect(rejected.map((e) => [e.eventId, e.status, e.code, e.field, e.index])).toEqual([
      ["rej-3", 400, "invalid_value", "events[3].value", 3],
      ["rej-1", 422, "unknown_customer", "events[1].customer", 1],
    ]);
    expect(stats).toMatchObject({ sent: 2, rejected: 2 });
    expect(unsent).toEqual([]);
  });

  it("a revoked key loses nothing: the events are kept and retried, and close hands back what it could not send", async () => {
    const made = await createApiKey(api.db, { name: "to revoke", role: "ingest" });
    await revokeApiKey(api.db, made.id);
    const errors: MeterlineError[] = [];
    const client = new MeterlineClient({
      url: apiUrl,
      apiKey: made.secret,
      backoff: { baseMs: 20, maxMs: 100 },
      onError: (e) => errors.push(e),
    });
    await client.track({ id: "revoked-0", customer: "acme", event_name: "api_calls", value: 1 });
    await client.track({ id: "revoked-1", customer: "acme", event_name: "api_calls", value: 1 });
    const { stats, unsent } = await client.close({ timeoutMs: 1000 });
    expect(unsent.map((e) => e.id)).toEqual(["revoked-0", "revoked-1"]);
    expect(stats).toMatchObject({ sent: 0, rejected: 0 });
    expect(stats.retries).toBeGreaterThan(1);
    expect(errors[0]).toBeInstanceOf(RequestRefusedError);
    expect(errors[0]).toMatchObject({ status: 401, code: "unauthorized" });
    expect(await stored("revoked-")).toEqual({ n: 0, total: 0 });
  });

  it("bounds memory: when full it drops and counts (whenFull: drop) or makes track wait (the default)", async () => {
    const proxy = await faultProxy(apiUrl);
    proxy.faults.push({ kind: "delay", ms: 500 }, { kind: "delay", ms: 500 });
    const dropping = new MeterlineClient({
      url: proxy.url,
      apiKey: api.ingestKey,
      maxBatchSize: 10,
      maxQueued: 20,
      whenFull: "drop",
    });
    for (let i = 0; i < 50; i++) {
      await dropping.track({
        id: `drop-${i}`,
        customer: "acme",
        event_name: "api_calls",
        value: 1,
      });
    }
    expect(dropping.stats).toMatchObject({ dropped: 30, queued: 20 });
    await dropping.close();
    expect(await stored("drop-")).toEqual({ n: 20, total: 20 });

    proxy.faults.push({ kind: "delay", ms: 300 });
    const waiting = new MeterlineClient({
      url: proxy.url,
      apiKey: api.ingestKey,
      maxBatchSize: 10,
      maxQueued: 10,
    });
    const started = Date.now();
    for (let i = 0; i < 25; i++) {
      await waiting.track({ id: `wait-${i}`, customer: "acme", event_name: "api_calls", value: 1 });
      expect(waiting.stats.queued).toBeLessThanOrEqual(10);
    }
    // The 11th track waited for the first (held) batch to be stored.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await waiting.close();
    expect(await stored("wait-")).toEqual({ n: 25, total: 25 });
    await proxy.close();
  });
});
