import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { BODY_LIMIT } from "../http/limits.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { MAX_FUTURE_MINUTES } from "./event-checks.ts";
import { eventSchema, fieldRules, MAX_BATCH, parseEvents } from "./event-input.ts";
import { type IngestMetrics, noIngestMetrics } from "./ingest-metrics.ts";
import { storeEvents } from "./store-events.ts";

/** What the events route needs. */
export interface EventsRouteOptions {
  db: Db;
  /** How far ahead of the server's clock a timestamp may be; MAX_FUTURE_MINUTES when unset. */
  maxFutureMinutes?: number;
  /** Where answers and stored batches are counted; default: nowhere. */
  metrics?: IngestMetrics;
}

/** What a stored batch answers (202). */
export const acceptedSchema = z.object({
  accepted: z.number().int().min(0).describe("Events stored by this request"),
  duplicates: z
    .number()
    .int()
    .min(0)
    .describe("Events already stored, or repeated in the batch: no-ops, so a retry is safe"),
});

const doc: RouteDoc = {
  tag: "Events",
  summary: 'Ingest usage events: one event object, or {"events": [...]} with 1 to 1,000.',
  description:
    "All or nothing: a 400 names every bad field (the first 100), a 422 every unknown customer or " +
    "meter, a 409 every reused id, and nothing is stored. A 202 means the batch is committed: " +
    "every event will be billed exactly once or dead-lettered with a reason. Resending the same " +
    "events is safe (they count as duplicates).",
  body: z.union([
    eventSchema,
    z.strictObject({ events: z.array(eventSchema).min(1).max(MAX_BATCH) }),
  ]),
  rules: fieldRules,
  responses: { 202: acceptedSchema },
  errors: {
    400: [ErrorCode.invalid_body, ErrorCode.invalid_events],
    409: [ErrorCode.conflicting_event],
    422: [ErrorCode.unknown_customer, ErrorCode.unknown_event_name, ErrorCode.customer_deleted],
  },
};

/**
 * POST /v1/events (ingest role): one event object, or `{"events": [...]}` with 1 to 1,000.
 * All-or-nothing: 400 names every bad field, 422 unknown customers or meters, 409 reused ids,
 * and otherwise 202 `{accepted, duplicates}` once the batch is committed. `accepted` counts the
 * events stored now, `duplicates` the no-ops (already stored, or repeated in the batch), so the
 * two add up to the number of items sent.
 */
export const eventsRoutes: FastifyPluginAsync<EventsRouteOptions> = async (
  app,
  { db, maxFutureMinutes = MAX_FUTURE_MINUTES, metrics = noIngestMetrics },
) => {
  // Every answer of this plugin's one route, refusals included: latency by status class.
  app.addHook("onResponse", async (_request, reply) => {
    metrics.answered(reply.statusCode, reply.elapsedTime / 1000);
  });
  app.post(
    "/events",
    { bodyLimit: BODY_LIMIT, config: { role: "ingest", doc } },
    async (request, reply) => {
      const parsed = parseEvents(request.body, new Date(), { maxFutureMinutes });
      if (!parsed.ok) throw parsed.error;
      const stored = await storeEvents(db, parsed.events, { batch: parsed.batch });
      metrics.stored(stored.accepted, stored.duplicates + parsed.repeats);
      return reply
        .status(202)
        .send({ accepted: stored.accepted, duplicates: stored.duplicates + parsed.repeats });
    },
  );
};
