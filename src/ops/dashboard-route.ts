import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { readCircuits } from "../outbox/circuits.ts";
import { reasonOf } from "../outbox/reasons.ts";
import { listWorkers } from "../outbox/workers.ts";
import {
  reconciliationSummarySchema,
  reconciliationSummaryView,
} from "../reconcile/reconciliations-route.ts";
import { latestReconciliationSummary } from "../reconcile/run.ts";
import { queueCounts } from "./queue-snapshot.ts";
import { lastHourThroughput, type ThroughputSource } from "./throughput.ts";

/** Workers listed at most: alive ones first, then the most recently seen. */
export const DASHBOARD_WORKERS_MAX = 20;

const count = z.number().int();

/** GET /v1/dashboard's answer: the view type comes from it. */
export const dashboardSchema = z.object({
  queue: z.object({
    pending: count,
    leased: count.describe("Pending events held by a worker right now"),
    by_wait_reason: z.record(z.string(), count),
    oldest_pending_age_s: z.number().nullable(),
    lag_s: z
      .number()
      .nullable()
      .describe("Age of the oldest event due now: how far behind the workers are"),
  }),
  throughput: z.object({
    minutes: z.array(z.object({ minute: z.string(), reported: count, failed: count })),
    reported: count,
    failed: count,
  }),
  dead_letters: z.array(z.object({ code: z.string(), count, next_step: z.string().nullable() })),
  circuits: z.array(
    z.object({
      scope: z.string(),
      reason: z.string(),
      opened_by: z.string().nullable(),
      opened_at: z.string(),
      next_probe_at: z.string(),
      probe_owner: z.string().nullable(),
    }),
  ),
  workers: z.object({
    alive: count,
    total: count,
    list: z.array(
      z.object({
        id: z.string(),
        host: z.string(),
        pid: count,
        alive: z.boolean(),
        in_flight: count,
        started_at: z.string(),
        last_seen_at: z.string(),
        stopped_at: z.string().nullable(),
      }),
    ),
  }),
  reconciliation: reconciliationSummarySchema.nullable(),
});

const doc: RouteDoc = {
  tag: "Operations",
  summary: "What the dashboard shows, in one answer.",
  description:
    "The queue (depth, age, lag), the last hour's throughput by minute, dead letters by code with the next step, open circuits with their reason and next probe, workers and their liveness, and the latest reconciliation without its differences.",
  responses: { 200: dashboardSchema },
};

/** What the dashboard's summary reads. */
export interface DashboardRouteOptions {
  db: Db;
  /** How long a worker may go unseen and count as alive (outbox/workers.ts). */
  liveWithinMs: number;
  /** Where throughput comes from; the events table by default. */
  throughput?: ThroughputSource;
}

/**
 * GET /v1/dashboard (admin): what the person on call looks at first, in one answer, from the
 * reads the metrics, the circuits, the workers list and reconciliation already use: the queue
 * (depth, age, lag), the last hour's throughput, dead letters by code with the next step, open
 * circuits with their reason and next probe, workers with their liveness, the latest
 * reconciliation. The page at /dashboard shows it.
 */
export const dashboardRoutes: FastifyPluginAsync<DashboardRouteOptions> = async (app, options) => {
  const { db, liveWithinMs } = options;
  const throughput = options.throughput ?? lastHourThroughput;
  app.get("/dashboard", { config: { doc } }, async (): Promise<z.infer<typeof dashboardSchema>> => {
    const counts = await queueCounts(db);
    const circuits = await readCircuits(db);
    const workers = await listWorkers(db, liveWithinMs);
    const reconciliation = await latestReconciliationSummary(db);
    const pending = counts.pending;
    const byWaitReason: Record<string, number> = {};
    for (const p of pending) byWaitReason[p.waitReason] = (byWaitReason[p.waitReason] ?? 0) + p.n;
    return {
      queue: {
        pending: pending.reduce((sum, p) => sum + p.n, 0),
        leased: pending.filter((p) => p.leased).reduce((sum, p) => sum + p.n, 0),
        by_wait_reason: byWaitReason,
        oldest_pending_age_s: counts.oldestPendingAgeS,
        lag_s: counts.oldestDueAgeS,
      },
      throughput: await throughput(db),
      dead_letters: counts.deadLetters
        .map((d) => ({ code: d.code, count: d.n, next_step: reasonOf(d.code)?.nextStep ?? null }))
        .sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : 1)),
      circuits: circuits.map((c) => ({
        scope: c.scope,
        reason: c.reason,
        opened_by: c.openedBy,
        opened_at: c.openedAt.toISOString(),
        next_probe_at: c.nextProbeAt.toISOString(),
        probe_owner: c.probeOwner,
      })),
      workers: {
        alive: workers.filter((w) => w.alive).length,
        total: workers.length,
        list: workers.slice(0, DASHBOARD_WORKERS_MAX).map((w) => ({
          id: w.id,
          host: w.host,
          pid: w.pid,
          alive: w.alive,
          in_flight: w.inFlight,
          started_at: w.startedAt.toISOString(),
          last_seen_at: w.lastSeenAt.toISOString(),
          stopped_at: w.stoppedAt?.toISOString() ?? null,
        })),
      },
      reconciliation: reconciliation ? reconciliationSummaryView(reconciliation) : null,
    };
  });
};
