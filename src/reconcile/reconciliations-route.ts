import type { FastifyPluginAsync } from "fastify";
import type Stripe from "stripe";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import type { ReconciliationRow } from "../db/schema/reconciliations.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { parseBody } from "../validation/parse-body.ts";
import { RECONCILE_HOURS, SETTLE_MINUTES } from "./limits.ts";
import { latestReconciliation, type ReconciliationSummaryRow, runReconciliation } from "./run.ts";

const rules = {
  hours: `must be a whole number of hours from 1 to ${RECONCILE_HOURS.max} (35 days)`,
  settle_minutes: `must be a whole number of minutes from 0 to ${SETTLE_MINUTES.max}`,
};

const bodySchema = z.strictObject({
  hours: z.number().int().min(1).max(RECONCILE_HOURS.max).default(RECONCILE_HOURS.default),
  settle_minutes: z.number().int().min(0).max(SETTLE_MINUTES.max).default(SETTLE_MINUTES.default),
});

const driftRowSchema = z.object({
  customer: z.string(),
  stripe_customer_id: z.string(),
  event_name: z.string(),
  stripe_meter_id: z
    .string()
    .describe('The Stripe meter; "" for a usage-records meter without one'),
  hour: z
    .string()
    .describe(
      "The hour (UTC) the events' own timestamps fall in; for usage records, the billing period's start",
    ),
  meterline: z.number(),
  stripe: z.number(),
  difference: z.number().describe("stripe − meterline"),
  events: z.number().int(),
  event_ids: z.array(z.string()).describe("The first ids of the group's reported events"),
  subscription_item: z
    .string()
    .optional()
    .describe(
      "Legacy usage records only: the subscription item (si_…) the period is Stripe's total of",
    ),
  period_end: z
    .string()
    .optional()
    .describe("Legacy usage records only: the billing period's end (its start is `hour`)"),
});

/** A reconciliation as the API shows it. */
export const reconciliationViewSchema = z.object({
  id: z.number().int(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  range_start: z.string(),
  range_end: z.string(),
  ran_by: z.string().describe('A worker id, or "api"'),
  groups: z.number().int().describe("customer × meter × hour groups compared"),
  drift_groups: z.number().int().describe("Groups whose totals differ"),
  settling_groups: z
    .number()
    .int()
    .describe("Groups left out: reported too recently for Stripe's totals to show"),
  meterline_total: z.number(),
  stripe_total: z.number(),
  drift: z.array(driftRowSchema),
  error: z.string().nullable().describe("Why the run could not finish; null when it did"),
});

const docs = {
  run: {
    tag: "Reconciliation",
    summary: "Compare what Meterline reported with Stripe's totals now, and keep the result.",
    description:
      "Per customer × meter × hour over the last `hours` hours, leaving out groups reported " +
      "within `settle_minutes` (Stripe's totals lag).",
    body: bodySchema,
    rules,
    responses: { 201: reconciliationViewSchema },
    errors: {
      400: [ErrorCode.invalid_body],
      502: [ErrorCode.reconciliation_failed],
      503: [ErrorCode.stripe_not_configured],
    },
  },
  latest: {
    tag: "Reconciliation",
    summary: "The last finished reconciliation.",
    responses: { 200: reconciliationViewSchema },
    errors: { 404: [ErrorCode.reconciliation_not_found] },
  },
} satisfies Record<string, RouteDoc>;

/** A reconciliation as the API shows it. */
export function reconciliationView(
  row: ReconciliationRow,
): z.infer<typeof reconciliationViewSchema> {
  return { ...reconciliationSummaryView(row), drift: row.drift };
}

/** A reconciliation as the API shows it, without its differences (the dashboard's). */
export function reconciliationSummaryView(
  row: ReconciliationSummaryRow,
): z.infer<typeof reconciliationSummarySchema> {
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
    error: row.error,
  };
}

/** reconciliationViewSchema without the differences. */
export const reconciliationSummarySchema = reconciliationViewSchema.omit({ drift: true });

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
  app.post("/reconciliations", { config: { doc: docs.run } }, async (request, reply) => {
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

  app.get("/reconciliations/latest", { config: { doc: docs.latest } }, async () => {
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
