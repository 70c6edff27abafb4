import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reporterCircuits } from "../../src/db/schema/reporter-circuits.ts";
import { workers } from "../../src/db/schema/workers.ts";
import { closeCircuit, openCircuit } from "../../src/outbox/circuits.ts";
import { registerWorker, stopWorker } from "../../src/outbox/workers.ts";
import { backends } from "../support/db.ts";
import { apiError, startApi, type TestApi } from "./harness.ts";

/** /readyz reads the shared state through a cache of at most a second: wait it out. */
const pastCache = () => new Promise((resolve) => setTimeout(resolve, 1_100));

// The defect: /readyz on `serve` (the API alone, no worker in the process) said ready while the
// account circuit was open in Postgres, because it asked only the worker of its own process.
// The harness builds the API exactly as `serve` does: no worker, no readiness hook.
describe.each(backends)("/readyz and /v1/workers on a serve-only API on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
  });
  afterAll(() => api?.close());

  const readyz = () => api.app.inject({ method: "GET", url: "/readyz" });

  it("/readyz on serve is not ready while a circuit is open in Postgres", async () => {
    await openCircuit(api.db, {
      scope: "account",
      reason: "Stripe answered 401: the API key was revoked",
      owner: "other-host-1",
      probeMs: 60_000,
    });
    await pastCache();
    const res = await readyz();
    expect(res.statusCode).toBe(503);
    const body = res.json();
    const [circuit] = await api.db.select().from(reporterCircuits);
    const nextProbe = circuit?.nextProbeAt.toISOString();
    expect(body).toMatchObject({
      ready: false,
      reasons: [
        `reporting halted (account): Stripe answered 401: the API key was revoked; next probe at ${nextProbe}`,
      ],
      circuits: [
        {
          scope: "account",
          reason: "Stripe answered 401: the API key was revoked",
          opened_by: "other-host-1",
          next_probe_at: nextProbe,
        },
      ],
    });
  });

  it("/readyz on serve is ready again once the circuit is closed", async () => {
    await closeCircuit(api.db, "account");
    await pastCache();
    const res = await readyz();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ready: true, reasons: [], circuits: [] });
  });

  it("no live worker does not fail /readyz, and the body says so", async () => {
    const res = await readyz();
    expect(res.statusCode).toBe(200);
    expect(res.json().workers).toEqual({
      live: 0,
      note: "no live reporter worker: events are accepted and wait in the queue until one runs",
    });
  });

  it("/readyz counts live workers from the workers table", async () => {
    await registerWorker(api.db, { id: "w-live", host: "host-a", pid: 11 });
    await pastCache();
    const res = await readyz();
    expect(res.statusCode).toBe(200);
    expect(res.json().workers).toEqual({ live: 1 });
  });

  it("GET /v1/workers lists every worker with alive, host, pid, started, last seen, in flight", async () => {
    await registerWorker(api.db, { id: "w-stopped", host: "host-b", pid: 22 });
    await stopWorker(api.db, "w-stopped");
    await registerWorker(api.db, { id: "w-silent", host: "host-c", pid: 33 });
    // Its last heartbeat an hour ago by the database's clock: gone, though never stopped.
    await api.db
      .update(workers)
      .set({ lastSeenAt: sql`now() - interval '1 hour'`, inFlight: 4 })
      .where(sql`${workers.id} = 'w-silent'`);

    const res = await api.call({ method: "GET", url: "/v1/workers" });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.live).toBe(1);
    // Alive first, then the most recently seen.
    expect(body.data.map((w: { id: string }) => w.id)).toEqual(["w-live", "w-stopped", "w-silent"]);
    expect(body.data[0]).toEqual({
      id: "w-live",
      alive: true,
      host: "host-a",
      pid: 11,
      started_at: expect.stringMatching(/Z$/),
      last_seen_at: expect.stringMatching(/Z$/),
      in_flight: 0,
      stopped_at: null,
    });
    expect(body.data[1]).toMatchObject({ alive: false, stopped_at: expect.stringMatching(/Z$/) });
    expect(body.data[2]).toMatchObject({ alive: false, in_flight: 4, stopped_at: null });
  });

  it("GET /v1/workers needs an admin key", async () => {
    const anonymous = await api.app.inject({ method: "GET", url: "/v1/workers" });
    expect(anonymous.statusCode).toBe(401);
    const ingest = await api.call({
      method: "GET",
      url: "/v1/workers",
      headers: { authorization: `Bearer ${api.ingestKey}` },
    });
    expect(ingest.statusCode).toBe(403);
    expect(apiError(ingest).code).toBe("forbidden");
  });
});
