import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../../src/config.ts";
import { buildApp } from "../../src/http/app.ts";
import { createApiKey } from "../../src/ops/api-keys.ts";
import { openCircuit } from "../../src/outbox/circuits.ts";
import { registerWorker } from "../../src/outbox/workers.ts";
import { seed, startApi, type TestApi } from "../api/harness.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { families, samples } from "../support/prom-text.ts";

describe.each(backends)("GET /metrics on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await seed(api.db, { customers: ["acme", "globex"], meters: ["api_calls"] });
  });
  afterAll(() => api?.close());

  const scrape = async () => {
    const res = await api.call({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.body;
  };

  it("needs an admin key: 401 without one, 403 with an ingest key", async () => {
    const anonymous = await api.app.inject({ method: "GET", url: "/metrics" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.code).toBe("unauthorized");
    const ingest = await api.call({
      method: "GET",
      url: "/metrics",
      headers: { authorization: `Bearer ${api.ingestKey}` },
    });
    expect(ingest.statusCode).toBe(403);
    expect(ingest.json().error.message).toContain("needs an admin key");
  });

  it("counts ingest: events accepted and duplicate, batch sizes, latency by status class", async () => {
    const events = [1, 2, 3].map((i) => ({
      id: `m-${i}`,
      customer: "acme",
      event_name: "api_calls",
      value: 1,
    }));
    const first = await api.call({ method: "POST", url: "/v1/events", payload: { events } });
    expect(first.statusCode).toBe(202);
    const again = await api.call({ method: "POST", url: "/v1/events", payload: { events } });
    expect(again.json()).toEqual({ accepted: 0, duplicates: 3 });
    const refused = await api.call({ method: "POST", url: "/v1/events", payload: { id: "x" } });
    expect(refused.statusCode).toBe(400);

    const s = samples(await scrape());
    expect(s.get('meterline_ingest_events_total{result="accepted"}')).toBe(3);
    expect(s.get('meterline_ingest_events_total{result="duplicate"}')).toBe(3);
    expect(s.get("meterline_ingest_batch_events_count")).toBe(2);
    expect(s.get("meterline_ingest_batch_events_sum")).toBe(6);
    expect(s.get('meterline_ingest_request_duration_seconds_count{status_class="2xx"}')).toBe(2);
    expect(s.get('meterline_ingest_request_duration_seconds_count{status_class="4xx"}')).toBe(1);
  });

  it("shows the queue as the database holds it: pending by wait reason, oldest age, dead letters, circuits, workers", async () => {
    // m-1..3 are pending and due (above); one waits for its customer, two are dead letters.
    await api.db.execute(sql`insert into usage_events
      (id, customer_key, event_name, value, occurred_at, received_at, status, wait_reason, last_error_code)
      values
      ('w-1', 'globex', 'api_calls', 1, now(), now() - interval '90 seconds', 'pending', 'customer_unlinked', null),
      ('f-1', 'globex', 'api_calls', 1, now(), now(), 'failed', null, 'resource_missing'),
      ('f-2', 'acme', 'api_calls', 1, now(), now(), 'failed', null, 'resource_missing'),
      ('r-1', 'acme', 'api_calls', 1, now(), now(), 'reported', null, null)`);
    await openCircuit(api.db, {
      scope: "account",
      reason: "Stripe answered 401",
      owner: "w-a",
      probeMs: 60_000,
    });
    await registerWorker(api.db, { id: "worker-a", host: "h", pid: 1 });
    await api.db.execute(sql`insert into reconciliations
      (range_start, range_end, ran_by, finished_at, groups, drift_groups, drift, drift_total)
      values (now() - interval '48 hours', now(), 'api', now(), 9, 2,
        '[{"difference": -3}, {"difference": 7}]'::jsonb, 10)`);
    // An earlier scrape's snapshot serves for 2 s (queue-gauges.ts): wait it out.
    await new Promise((resolve) => setTimeout(resolve, 2_100));

    const s = samples(await scrape());
    expect(s.get("meterline_queue_snapshot_up")).toBe(1);
    expect(s.get('meterline_events_pending{leased="false",wait_reason="none"}')).toBe(3);
    expect(s.get('meterline_events_pending{leased="false",wait_reason="customer_unlinked"}')).toBe(
      1,
    );
    expect(s.get("meterline_oldest_pending_age_seconds")).toBeGreaterThanOrEqual(89);
    expect(s.get('meterline_dead_letters{code="resource_missing"}')).toBe(2);
    expect(s.get('meterline_circuit_open_seconds{scope="account"}')).toBeGreaterThanOrEqual(0);
    expect(s.get("meterline_workers_live")).toBe(1);
    expect(s.get('meterline_worker_in_flight{worker="worker-a"}')).toBe(0);
    expect(s.get('meterline_reconciliation_drift_groups{result="finished"}')).toBe(2);
    expect(s.get('meterline_reconciliation_drift_units{result="finished"}')).toBe(10);
    expect(
      s.get('meterline_reconciliation_finished_timestamp_seconds{result="finished"}'),
    ).toBeGreaterThan(Date.now() / 1000 - 60);
    // Reported events are the workers' counters, never a count over the whole table.
    expect([...s.keys()].some((k) => k.includes("reported"))).toBe(false);
  });

  it("declares each family with its type, and Node's process metrics beside them", async () => {
    const f = families(await scrape());
    expect(f.get("meterline_stripe_requests_total")).toBe("counter");
    expect(f.get("meterline_stripe_request_duration_seconds")).toBe("histogram");
    expect(f.get("meterline_event_outcomes_total")).toBe("counter");
    expect(f.get("meterline_events_pending")).toBe("gauge");
    expect(f.get("process_cpu_seconds_total")).toBe("counter");
    expect(f.get("nodejs_heap_size_used_bytes")).toBe("gauge");
  });
});

describe.each(backends)("GET /metrics with METERLINE_METRICS_PUBLIC=true on %s", (kind) => {
  it("answers without a key", async () => {
    const database = await freshDatabase(kind);
    const app = await buildApp({
      db: database.db,
      config: defaultConfig({ METERLINE_METRICS_PUBLIC: "true" }),
    });
    try {
      await createApiKey(database.db, { name: "unused", role: "admin" });
      const res = await app.inject({ method: "GET", url: "/metrics" });
      expect(res.statusCode).toBe(200);
      expect(samples(res.body).get("meterline_workers_live")).toBe(0);
    } finally {
      await app.close();
      await database.close();
    }
  });
});
