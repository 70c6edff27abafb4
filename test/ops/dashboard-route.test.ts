import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_CSP } from "../../src/dashboard/page-route.ts";
import { rows } from "../../src/db/rows.ts";
import { openCircuit } from "../../src/outbox/circuits.ts";
import { registerWorker, stopWorker } from "../../src/outbox/workers.ts";
import { latestReconciliationSummary } from "../../src/reconcile/run.ts";
import { startApi, type TestApi } from "../api/harness.ts";
import { backends } from "../support/db.ts";

describe.each(backends)("the dashboard on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
  });
  afterAll(() => api?.close());

  it("GET /v1/dashboard needs an admin key: 401 without one, 403 with an ingest key", async () => {
    const anonymous = await api.app.inject({ method: "GET", url: "/v1/dashboard" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.code).toBe("unauthorized");
    const ingest = await api.call({
      method: "GET",
      url: "/v1/dashboard",
      headers: { authorization: `Bearer ${api.ingestKey}` },
    });
    expect(ingest.statusCode).toBe(403);
    expect(ingest.json().error.message).toContain("needs an admin key");
  });

  it("an empty system: nothing pending, no throughput, no dead letter, no circuit, no worker", async () => {
    const res = await api.call({ method: "GET", url: "/v1/dashboard" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      queue: { pending: 0, leased: 0, by_wait_reason: {}, oldest_pending_age_s: null, lag_s: 0 },
      throughput: { minutes: [], reported: 0, failed: 0 },
      dead_letters: [],
      circuits: [],
      workers: { alive: 0, total: 0, list: [] },
      reconciliation: null,
    });
  });

  it("shows the queue, the last hour by minute, dead letters by code, circuits, workers and the latest reconciliation", async () => {
    await api.db.execute(sql`insert into usage_events
      (id, customer_key, event_name, value, occurred_at, received_at, status, wait_reason,
       last_error_code, lease_owner, next_attempt_at, reported_at, failed_at)
      values
      ('p-1', 'a', 'm', 1, now(), now() - interval '10 minutes', 'pending', null, null, null, now() - interval '2 minutes', null, null),
      ('p-2', 'a', 'm', 1, now(), now() - interval '1 minute', 'pending', null, null, 'w-1', now(), null, null),
      ('p-3', 'b', 'm', 1, now(), now(), 'pending', 'customer_unlinked', null, null, now() + interval '1 hour', null, null),
      ('r-1', 'a', 'm', 1, now(), now(), 'reported', null, null, null, now(), date_trunc('minute', now()) - interval '5 minutes', null),
      ('r-2', 'a', 'm', 1, now(), now(), 'reported', null, null, null, now(), date_trunc('minute', now()) - interval '5 minutes' + interval '30 seconds', null),
      ('r-3', 'a', 'm', 1, now(), now(), 'reported', null, null, null, now(), date_trunc('minute', now()) - interval '1 minute', null),
      ('r-old', 'a', 'm', 1, now(), now(), 'reported', null, null, null, now(), now() - interval '2 hours', null),
      ('f-1', 'b', 'm', 1, now(), now(), 'failed', null, 'customer_deleted', null, now(), null, date_trunc('minute', now()) - interval '1 minute'),
      ('f-2', 'b', 'm', 1, now(), now(), 'failed', null, 'customer_deleted', null, now(), null, now() - interval '3 hours'),
      ('f-3', 'c', 'm', 1, now(), now(), 'failed', null, 'resource_missing', null, now(), null, now() - interval '3 hours'),
      ('d-1', 'c', 'm', 1, now(), now(), 'discarded', null, 'cancelled', null, now(), null, now())`);
    await openCircuit(api.db, {
      scope: "account",
      reason: "Stripe answered 401",
      owner: "w-1",
      probeMs: 60_000,
    });
    await registerWorker(api.db, { id: "w-1", host: "h1", pid: 11 });
    await registerWorker(api.db, { id: "w-2", host: "h2", pid: 22 });
    await stopWorker(api.db, "w-2");
    await api.db.execute(sql`insert into reconciliations
      (range_start, range_end, ran_by, finished_at, groups, drift_groups, settling_groups,
       meterline_total, stripe_total, drift)
      values (now() - interval '1 day', now(), 'w-1', now(), 4, 1, 0, 10, 9,
              '[{"difference": 1, "event_ids": ["r-1"]}]'::jsonb)`);

    const body = (await api.call({ method: "GET", url: "/v1/dashboard" })).json();
    expect(body.queue).toMatchObject({
      pending: 3,
      leased: 1,
      by_wait_reason: { none: 2, customer_unlinked: 1 },
    });
    expect(body.queue.oldest_pending_age_s).toBeGreaterThanOrEqual(599);
    expect(body.queue.lag_s).toBeGreaterThanOrEqual(119);

    // The minutes as the rows were placed (by the database's clock when inserted), not as this
    // test's clock reads them: a minute may have turned since.
    const placed = await rows<{ id: string; minute: string }>(
      api.db,
      sql`select id, to_char(date_trunc('minute', reported_at) at time zone 'UTC',
                             'YYYY-MM-DD"T"HH24:MI:SS"Z"') as minute
            from usage_events where id in ('r-1', 'r-3')`,
    );
    const minute = (id: string) => placed.find((p) => p.id === id)?.minute;
    expect(body.throughput).toEqual({
      minutes: [
        { minute: minute("r-1"), reported: 2, failed: 0 },
        { minute: minute("r-3"), reported: 1, failed: 1 },
      ],
      reported: 3,
      failed: 1,
    });

    expect(body.dead_letters).toEqual([
      { code: "customer_deleted", count: 2, next_step: expect.stringContaining("restore") },
      { code: "resource_missing", count: 1, next_step: null },
    ]);
    expect(body.circuits).toEqual([
      {
        scope: "account",
        reason: "Stripe answered 401",
        opened_by: "w-1",
        opened_at: expect.any(String),
        next_probe_at: expect.any(String),
        probe_owner: null,
      },
    ]);
    const probeIn = Date.parse(body.circuits[0].next_probe_at) - Date.now();
    expect(probeIn).toBeGreaterThan(50_000);
    expect(body.workers).toMatchObject({
      alive: 1,
      total: 2,
      list: [
        { id: "w-1", host: "h1", pid: 11, alive: true, stopped_at: null },
        { id: "w-2", alive: false, stopped_at: expect.any(String) },
      ],
    });
    expect(body.reconciliation).toMatchObject({ drift_groups: 1, groups: 4, stripe_total: 9 });
    // The differences (and their event ids) stay on GET /v1/reconciliations/latest.
    expect(body.reconciliation).not.toHaveProperty("drift");
    // ...and the dashboard never reads them: they may be large, and it refreshes every few seconds.
    const read = await latestReconciliationSummary(api.db);
    expect(read).toMatchObject({ driftGroups: 1 });
    expect(read).not.toHaveProperty("drift");
  });

  it("GET / sends a browser to /dashboard, which is served without a key under a strict CSP", async () => {
    const root = await api.app.inject({ method: "GET", url: "/" });
    expect(root.statusCode).toBe(302);
    expect(root.headers.location).toBe("/dashboard");

    const page = await api.app.inject({ method: "GET", url: "/dashboard" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain("unsafe");
    expect(page.body).toContain('<form id="sign-in-form"');
    expect(page.body).not.toMatch(/<script>|style="/);

    for (const [path, type] of [
      ["/dashboard/app.js", "text/javascript; charset=utf-8"],
      ["/dashboard/app.css", "text/css; charset=utf-8"],
    ]) {
      const res = await api.app.inject({ method: "GET", url: path });
      expect(res.statusCode, path).toBe(200);
      expect(res.headers["content-type"]).toBe(type);
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
    }
    expect((await api.app.inject({ method: "GET", url: "/dashboard/nope.js" })).statusCode).toBe(
      404,
    );
  });
});
