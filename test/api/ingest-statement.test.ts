import { sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { sqlClient } from "../../src/db/sql-client.ts";
import { REFUSED_ONE_EVENT_NAME } from "../../src/ingest/insert-events-sql.ts";
import { backends, describeOnPostgres } from "../support/db.ts";
import { apiError, seed, startApi, type TestApi } from "./harness.ts";

const post = (api: TestApi, payload: unknown) =>
  api.call({
    method: "POST",
    url: "/v1/events",
    payload: JSON.stringify(payload),
    headers: { "content-type": "application/json", authorization: `Bearer ${api.ingestKey}` },
  });

const event = (id: string, value = 1) => ({
  id,
  customer: "acme",
  event_name: "api_calls",
  value,
  timestamp: 1_738_396_800,
});

const storedIds = async (api: TestApi, prefix: string) =>
  (
    await rows<{ id: string }>(
      api.db,
      sql`select id from usage_events where id like ${`${prefix}%`} order by id`,
    )
  ).map((r) => r.id);

describe.each(backends)("ingest in one statement on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await seed(api.db, { customers: ["acme"], deleted: ["gone"], meters: ["api_calls"] });
  });
  afterAll(() => api?.close());

  /**
   * Exchanges the request has with the database: pg `query` calls (one each), or PGlite
   * protocol exchanges (`PGlite.query` makes six per statement; a prepared one makes one).
   */
  async function exchangesOf(send: () => Promise<unknown>): Promise<number> {
    const driver = (api.db as unknown as { $client: Record<string, unknown> }).$client;
    const method = kind === "pglite" ? "execProtocol" : "query";
    const original = driver[method] as (...args: unknown[]) => unknown;
    let calls = 0;
    driver[method] = function (this: unknown, ...args: unknown[]) {
      calls++;
      return original.apply(this, args);
    };
    try {
      await send();
    } finally {
      driver[method] = original;
    }
    return calls;
  }

  it("a single event, a 1,000-event batch and a batch's 422 each cost one round trip; a replay and one event's 422 two", async () => {
    // The first request looks its key up and prepares the single event's insert, its replay the
    // statement that judges taken ids, a first batch the batch's insert, and a first refused
    // event the read of why; the next ones do none of that.
    expect((await post(api, { ...event("one-warm-gone"), customer: "gone" })).statusCode).toBe(422);
    expect((await post(api, event("one-warm"))).statusCode).toBe(202);
    expect((await post(api, event("one-warm"))).statusCode).toBe(202);
    expect(
      (await post(api, { events: [event("one-warm-1"), event("one-warm-2")] })).statusCode,
    ).toBe(202);
    expect(await exchangesOf(() => post(api, event("one-single")))).toBe(1);
    const batch = Array.from({ length: 1000 }, (_, i) => event(`one-b-${i}`, i));
    expect(await exchangesOf(() => post(api, { events: batch }))).toBe(1);
    // A replay: the plain insert fails on the first taken id (nothing stored), and the judging
    // statement finds them all duplicates.
    let replayed: Awaited<ReturnType<typeof post>> | undefined;
    expect(
      await exchangesOf(async () => {
        replayed = await post(api, { events: batch });
      }),
    ).toBe(2);
    expect(replayed?.statusCode).toBe(202);
    expect(replayed?.json()).toMatchObject({ accepted: 0, duplicates: 1000 });
    const refusedBatch = await exchangesOf(async () => {
      const res = await post(api, {
        events: [event("one-ok"), { ...event("one-gone"), customer: "gone" }],
      });
      expect(apiError(res).code).toBe("customer_deleted");
    });
    expect(refusedBatch).toBe(1);
    // One event: its insert stores nothing, then a second statement reads why (a client's
    // mistake pays the second round trip, so that every event stored pays one statement less).
    const refused = await exchangesOf(async () => {
      const res = await post(api, { ...event("one-gone"), customer: "gone" });
      expect(apiError(res).code).toBe("customer_deleted");
    });
    expect(refused).toBe(2);
    expect(await storedIds(api, "one-b-")).toHaveLength(1000);
  });

  it("a reused id anywhere in a batch stores nothing of it, and the 409 names it", async () => {
    expect((await post(api, event("reuse-x", 1))).statusCode).toBe(202);
    const batch = [
      ...Array.from({ length: 500 }, (_, i) => event(`reuse-a${i}`)),
      event("reuse-x", 2),
    ];
    const res = await post(api, { events: batch });
    expect(res.statusCode).toBe(409);
    expect(apiError(res)).toMatchObject({ code: "conflicting_event", ids: ["reuse-x"] });
    expect(await storedIds(api, "reuse-")).toEqual(["reuse-x"]);
  });

  it("keys with quotes, backslashes, commas, braces and NULL reach the database as sent", async () => {
    const customers = ['a"b', "c\\d", "e,f", "{g}", "NULL", "h i", "j'k", "ünï ☃", '\\"'];
    const meter = 'm,{\\"} ';
    await seed(api.db, { customers, meters: [meter] });
    const events = customers.map((customer, i) => ({
      ...event(`odd-${i}`),
      customer,
      event_name: meter,
    }));
    expect((await post(api, { events })).statusCode).toBe(202);
    const stored = await rows<{ id: string; customer_key: string; event_name: string }>(
      api.db,
      sql`select id, customer_key, event_name from usage_events where id like 'odd-%'`,
    );
    const byId = new Map(stored.map((r) => [r.id, [r.customer_key, r.event_name]]));
    expect(events.map((e) => byId.get(e.id))).toEqual(events.map((e) => [e.customer, meter]));
  });

  it("unknown customers and meters are all named, and nothing is stored", async () => {
    const res = await post(api, {
      events: [
        event("refs-1"),
        { ...event("refs-2"), customer: "nobody" },
        { ...event("refs-3"), event_name: "no_meter" },
      ],
    });
    expect(res.statusCode).toBe(422);
    expect(apiError(res).code).toBe("unknown_customer");
    expect(apiError(res).errors?.map((e) => e.field)).toEqual([
      "events[1].customer",
      "events[2].event_name",
    ]);
    expect(await storedIds(api, "refs-")).toEqual([]);
  });
});

/**
 * A request that meets an id another request inserted but has not committed waits for it, then
 * judges the row that request committed — which its own snapshot cannot see.
 */
describeOnPostgres("ingest racing an uncommitted insert of the same id", () => {
  let api: TestApi;
  let blocker: pg.Client;
  beforeAll(async () => {
    api = await startApi("postgres");
    await seed(api.db, { customers: ["acme"], meters: ["api_calls"] });
    blocker = new pg.Client(sqlClient(api.db).connectionConfig ?? {});
    await blocker.connect();
  });
  afterAll(async () => {
    await blocker?.end();
    await api?.close();
  });

  /** Opens a transaction that inserts `id` with `value`; returns its commit. */
  async function holdInsert(id: string, value: number): Promise<() => Promise<void>> {
    await blocker.query("begin");
    await blocker.query(
      `insert into usage_events (id, customer_key, event_name, value, occurred_at)
       values ($1, 'acme', 'api_calls', $2, to_timestamp(1738396800))`,
      [id, value],
    );
    return async () => {
      await blocker.query("commit");
    };
  }

  it("one event's customer created between its refused insert and the read of why: stored", async () => {
    // The customer is created (on another connection) just before the read of why runs.
    const pool = (api.db as unknown as { $client: pg.Pool }).$client;
    const original = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    let created = false;
    (pool as unknown as { query: unknown }).query = async (...args: unknown[]) => {
      const config = args[0] as { name?: string };
      if (config?.name === REFUSED_ONE_EVENT_NAME && !created) {
        created = true;
        await blocker.query("insert into customers (key) values ('late')");
      }
      return original(...args);
    };
    try {
      const res = await post(api, { ...event("late-1"), customer: "late" });
      expect(created).toBe(true);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ accepted: 1, duplicates: 0 });
    } finally {
      (pool as unknown as { query: unknown }).query = original;
    }
    expect(await storedIds(api, "late-")).toEqual(["late-1"]);
  });

  it("other content committed meanwhile: 409, and nothing of the batch is stored", async () => {
    const commit = await holdInsert("held-conflict", 1);
    const pending = post(api, { events: [event("held-conflict", 2), event("held-new-1")] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await commit();
    const res = await pending;
    expect(res.statusCode).toBe(409);
    expect(apiError(res).ids).toEqual(["held-conflict"]);
    expect(await storedIds(api, "held-new-1")).toEqual([]);
  });

  it("the same content committed meanwhile: a duplicate, and the rest is stored", async () => {
    const commit = await holdInsert("held-same", 1);
    const pending = post(api, { events: [event("held-same", 1), event("held-new-2")] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await commit();
    const res = await pending;
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 1, duplicates: 1 });
    expect(await storedIds(api, "held-new-2")).toEqual(["held-new-2"]);
  });
});
