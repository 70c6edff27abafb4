import { sql } from "drizzle-orm";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { defaultConfig } from "../config.ts";
import type { Db } from "../db/connect.ts";
import type { ReporterCircuit } from "../db/schema/reporter-circuits.ts";
import type { ApiKeyVerifier } from "../http/api-key-cache.ts";
import { authenticate } from "../http/auth.ts";
import { coerceError } from "../lib/errors.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { readCircuits } from "../outbox/circuits.ts";
import { listWorkers, liveWorkerCount, workerGoneAfterMs } from "../outbox/workers.ts";

/** Readiness of what lies beyond the database and the shared circuits (a part not started…). */
export type Readiness = () => { ready: boolean; reasons: string[] };

/** How long /readyz waits for the database: a probe must answer even when the pool hangs. */
const DB_PROBE_MS = 2_000;

/**
 * How long one read of the circuits and workers serves /readyz: a load balancer probing every
 * instance many times a second costs the database one read per second per API process, and a
 * circuit that opens shows within a second.
 */
const SHARED_STATE_CACHE_MS = 1_000;

/** What every process reads from the database to judge readiness. */
interface SharedState {
  circuits: ReporterCircuit[];
  liveWorkers: number;
}

/** What /readyz answers. */
export interface ReadyzBody {
  ready: boolean;
  reasons: string[];
  /** The open reporter circuits, read from the database (every process sees the same ones). */
  circuits: Array<{
    scope: string;
    reason: string;
    opened_by: string;
    opened_at: string;
    next_probe_at: string;
  }>;
  /** Live reporter workers; null when the database did not answer. Never a reason for 503. */
  workers: { live: number | null; note?: string };
}

const workersDoc: RouteDoc = {
  tag: "Operations",
  summary: "Every reporter worker, alive or not, with its last heartbeat.",
  responses: {
    200: z.object({
      data: z.array(
        z.object({
          id: z.string(),
          alive: z.boolean(),
          host: z.string(),
          pid: z.number().int(),
          started_at: z.string(),
          last_seen_at: z.string(),
          in_flight: z.number().int().describe("Events it holds leases on"),
          stopped_at: z.string().nullable(),
        }),
      ),
      live: z.number().int(),
      live_within_ms: z
        .number()
        .int()
        .describe("A worker unseen for longer is gone: two leases without a heartbeat"),
    }),
  },
};

export interface HealthOptions {
  db: Db;
  /** The app's API key cache, which /v1/workers checks keys against like every /v1 route. */
  apiKeys: ApiKeyVerifier;
  readiness?: Readiness | undefined;
  /** How long an unseen worker still counts as alive; default: the default lease's rule. */
  liveWithinMs?: number | undefined;
}

/**
 * GET /healthz (the process answers) and GET /readyz (it can do its work: the database answers,
 * no reporter circuit is open in it, and `readiness()` says ready; 503 with every reason
 * otherwise). Neither needs a key: load balancers and orchestrators call them.
 *
 * The circuits are read from the database, not from a worker in this process: a `serve` has no
 * worker, and a worker elsewhere may have opened the circuit. No live worker does not fail
 * readiness: the API still accepts events, which wait in the queue until a worker runs.
 *
 * Also GET /v1/workers (admin): every worker, alive or not, with its last heartbeat.
 */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, options) => {
  const { db, readiness } = options;
  const liveWithinMs = options.liveWithinMs ?? workerGoneAfterMs(defaultConfig().worker.leaseMs);
  const shared = cachedSharedState(db, liveWithinMs);

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const body: ReadyzBody = { ready: false, reasons: [], circuits: [], workers: { live: null } };
    // select 1 on every probe, uncached: whether the database answers NOW is the first question.
    const probe = await withinProbeTime(db.execute(sql`select 1`), "select 1");
    const state = "problem" in probe ? probe : await shared();
    if ("problem" in state) {
      body.reasons.push(`database: ${state.problem}`);
      body.workers.note = "unknown: the database did not answer";
    } else {
      describeShared(body, state.ok);
    }
    if (readiness) {
      const part = readiness();
      if (!part.ready) {
        body.reasons.push(...(part.reasons.length > 0 ? part.reasons : ["not ready"]));
      }
    }
    body.ready = body.reasons.length === 0;
    return reply.status(body.ready ? 200 : 503).send(body);
  });

  // Admin, like every /v1 route without a role (http/auth.ts). Registered here, beside the
  // liveness it reports, with the same key check as the rest of /v1.
  await app.register(
    async (v1) => {
      v1.addHook("onRequest", authenticate(options.apiKeys));
      v1.get("/workers", { config: { doc: workersDoc } }, async () => {
        const rows = await listWorkers(db, liveWithinMs);
        return {
          data: rows.map((w) => ({
            id: w.id,
            alive: w.alive,
            host: w.host,
            pid: w.pid,
            started_at: w.startedAt.toISOString(),
            last_seen_at: w.lastSeenAt.toISOString(),
            in_flight: w.inFlight,
            stopped_at: w.stoppedAt?.toISOString() ?? null,
          })),
          live: rows.filter((w) => w.alive).length,
          live_within_ms: liveWithinMs,
        };
      });
    },
    { prefix: "/v1" },
  );
};

/** Fills the circuits and workers of a /readyz answer; every open circuit is a reason. */
function describeShared(body: ReadyzBody, state: SharedState): void {
  for (const c of state.circuits) {
    const nextProbe = c.nextProbeAt.toISOString();
    body.reasons.push(`reporting halted (${c.scope}): ${c.reason}; next probe at ${nextProbe}`);
    body.circuits.push({
      scope: c.scope,
      reason: c.reason,
      opened_by: c.openedBy,
      opened_at: c.openedAt.toISOString(),
      next_probe_at: nextProbe,
    });
  }
  body.workers.live = state.liveWorkers;
  if (state.liveWorkers === 0) {
    body.workers.note =
      "no live reporter worker: events are accepted and wait in the queue until one runs";
  }
}

/**
 * The circuits and the live worker count, read at most once per SHARED_STATE_CACHE_MS (probes
 * meanwhile share the read, even one still under way).
 */
function cachedSharedState(
  db: Db,
  liveWithinMs: number,
): () => Promise<{ ok: SharedState } | { problem: string }> {
  let cached: { at: number; read: Promise<{ ok: SharedState } | { problem: string }> } | null =
    null;
  return () => {
    const now = Date.now();
    if (cached === null || now - cached.at >= SHARED_STATE_CACHE_MS) {
      const read = Promise.all([readCircuits(db), liveWorkerCount(db, liveWithinMs)]).then(
        ([circuits, liveWorkers]) => ({ circuits, liveWorkers }),
      );
      cached = { at: now, read: withinProbeTime(read, "reading reporter_circuits and workers") };
    }
    return cached.read;
  };
}

/** The work's value when it settles in time, else why not. */
async function withinProbeTime<T>(
  work: Promise<T>,
  what: string,
): Promise<{ ok: T } | { problem: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ problem: string }>((resolve) => {
    timer = setTimeout(
      () => resolve({ problem: `no answer to ${what} within ${DB_PROBE_MS} ms` }),
      DB_PROBE_MS,
    );
  });
  try {
    return await Promise.race([work.then((ok) => ({ ok })), timeout]);
  } catch (err) {
    return { problem: coerceError(err).message };
  } finally {
    clearTimeout(timer);
  }
}
