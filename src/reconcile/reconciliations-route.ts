import type { FastifyPluginAsync } from "fastify";
import type Stripe from "stripe";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import type { ReconciliationRow } from "../db/schema/reconciliations.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import { parseBody } from "../validation/parse-body.ts";
import { RECONCILE_HOURS, SETTLE_MINUTES } from "./limits.ts";
import { latestReconciliation, runReconciliation } from "./run.ts";

const rules = {
  hours: `must be a whole number of hours from 1 to ${RECONCILE_HOURS.max} (35 days)`,
  settle_minutes: `must be a whole number of minutes from 0 to ${SETTLE_MINUTES.max}`,
};

const bodySchema = z.strictObject({
  hours: z.number().int().min(1).max(RECONCILE_HOURS.max).default(RECONCILE_HOURS.default),
  settle_minutes: z.number().int().min(0).max(SETTLE_MINUTES.max).default(SETTLE_MINUTES.default),
});

/** A reconciliation as the API shows it. */
export function reconciliationView(row: ReconciliationRow) {
  return {
    id: row.id,
    started_at: row.startedAt.toISOString(),
    finished_at: row.finishedAt?.toISOString() ?? null,
    range_start: row.rangeStart.toISOString(),
    range_end: row.rangeEnd.toISOString(),
    ran_by: row.ranBy,
    groups: row.groups,
    drift_groups: row.driftGroups,
    settling_groups: row.settlingGroups,
    meterline_total: row.meterlineTotal,
    stripe_total: row.stripeTotal,
    drift: row.drift,
    error: row.error,
  };
}

/** What the reconciliation routes need. */
export interface ReconciliationRouteOptions {
  db: Db;
  /** The process's Stripe client; null when it has no key (then a run answers 503). */
  stripe: Stripe | null;
}

/**
 * POST /v1/reconciliations (admin): compares what Meterline reported with Stripe's totals now,
 * keeps the result, and answers it (201; 502 when Stripe could not be read). GET
 * /v1/reconciliations/latest: the last finished run.
 */
export const reconciliationRoutes: FastifyPluginAsync<ReconciliationRouteOptions> = async (
  app,
  { db, stripe },
) => {
  app.post("/reconciliations", async (request, reply) => {
    const input = parseBody(bodySchema, request.body, rules);
    if (stripe === null) {
      throw new ApiError(
        503,
        ErrorCode.stripe_not_configured,
        "this API process has no Stripe key (STRIPE_SECRET_KEY): it cannot read Stripe's totals",
      );
    }
    const row = await runReconciliation(db, stripe, {
      hours: input.hours,
      settleMinutes: input.settle_minutes,
      ranBy: "api",
    });
    if (row.error !== null) {
      throw new ApiError(
        502,
        ErrorCode.reconciliation_failed,
        `reconciliation ${row.id} could not read Stripe's totals: ${row.error}`,
      );
    }
    return reply.status(201).send(reconciliationView(row));
  });

  app.get("/reconciliations/latest", async () => {
    const row = await latestReconciliation(db);
    if (!row) {
      throw new ApiError(
        404,
        ErrorCode.reconciliation_not_found,
        "no reconciliation has run yet: POST /v1/reconciliations (or meterline reconcile) runs one",
      );
    }
    return reconciliationView(row);
  });
};
