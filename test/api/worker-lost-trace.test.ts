import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderTrace } from "../../src/cli/trace.ts";
import { usageEventAttempts } from "../../src/db/schema/usage-event-attempts.ts";
import { workers } from "../../src/db/schema/workers.ts";
import type { EventTrace } from "../../src/ingest/event-trace.ts";
import { registerWorker } from "../../src/outbox/workers.ts";
import { backends } from "../support/db.ts";
import { seed, startApi, type TestApi } from "./harness.ts";

const LOST =
  "claimed by worker dead-w, which stopped (killed, crashed or frozen past its lease) before any outcome";

// The defect: a worker's death left no trace in `trace`; the rescued event showed only the resend.
// The claim path now writes a worker_lost attempt row when it rescues an expired lease (written
// here directly); trace shows it with its worker, and whether each attempt's worker is alive.
describe.each(backends)("trace of a claim that ended with its worker gone on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await seed(api.db, { customers: ["acme"], meters: ["api_calls"] });
    const res = await api.call({
      method: "POST",
      url: "/v1/events",
      payload: { id: "lost-1", customer: "acme", event_name: "api_calls", value: 1 },
    });
    expect(res.statusCode).toBe(202);
    await registerWorker(api.db, { id: "dead-w", host: "host-a", pid: 1 });
    await registerWorker(api.db, { id: "live-w", host: "host-b", pid: 2 });
    // dead-w was SIGKILLed: no stop, no heartbeat for an hour by the database's clock.
    await api.db
      .update(workers)
      .set({ lastSeenAt: sql`now() - interval '1 hour'` })
      .where(eq(workers.id, "dead-w"));
    const t0 = new Date("2025-03-01T10:00:00Z");
    await api.db.insert(usageEventAttempts).values([
      {
        eventId: "lost-1",
        attempt: 0,
        worker: "dead-w",
        outcome: "worker_lost",
        message: LOST,
        startedAt: t0,
        finishedAt: new Date(t0.getTime() + 30_000),
      },
      {
        eventId: "lost-1",
        attempt: 1,
        worker: "live-w",
        outcome: "delivered",
        requestId: "req_1",
        startedAt: new Date(t0.getTime() + 31_000),
        finishedAt: new Date(t0.getTime() + 32_000),
      },
      { eventId: "lost-1", attempt: 1, worker: "operator", outcome: "note", startedAt: t0 },
    ]);
  });
  afterAll(() => api?.close());

  const trace = async (): Promise<EventTrace> => {
    const res = await api.call({ method: "GET", url: "/v1/events/lost-1" });
    expect(res.statusCode).toBe(200);
    return res.json() as EventTrace;
  };

  it("a worker's death shows in trace: the worker_lost claim, its worker, and that it is gone", async () => {
    const { history } = await trace();
    expect(history.map((a) => [a.outcome, a.worker, a.worker_alive])).toEqual([
      ["worker_lost", "dead-w", false],
      ["delivered", "live-w", true],
      // A worker the table does not know: unknown, not dead.
      ["note", "operator", null],
    ]);
    expect(history[0]?.message).toBe(LOST);
  });

  it("meterline trace prints the worker_lost row with its worker and what happened", async () => {
    const out = renderTrace(await trace());
    const line = out.split("\n").find((l) => l.includes("worker_lost"));
    expect(line).toContain("dead-w");
    expect(out).toContain(LOST);
  });
});
