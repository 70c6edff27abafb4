import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { applyAsyncRejections } from "./apply-async-rejections.ts";
import { ASYNC_REPORT_TYPES, readAsyncReport } from "./async-rejections.ts";

/** Where Stripe (or the emulator) delivers thin events. No API key: the signature authenticates. */
export const STRIPE_EVENTS_PATH = "/webhooks/stripe";

/** What the route needs: the database, a Stripe client to fetch full events, the signing secret. */
export interface StripeEventsDeps {
  db: Db;
  stripe: Stripe;
  webhookSecret: string;
}

const count = z.number().int().min(0);

const doc: RouteDoc = {
  tag: "Billing sync",
  summary:
    "Where Stripe delivers thin events (an event destination). No key: the Stripe-Signature header authenticates the body.",
  description:
    "The body must be the exact bytes Stripe signed. Asynchronous rejections " +
    "(`v1.billing.meter.error_report_triggered`, `v1.billing.meter.no_meter_found`) fail the " +
    "events they name with Stripe's code; other types are acknowledged and ignored. A " +
    "redelivered event is answered again and changes nothing (`duplicate`).",
  responses: {
    200: z.union([
      z.object({ received: z.literal(true), handled: z.literal(false) }),
      z.object({
        received: z.literal(true),
        handled: z.literal(true),
        duplicate: z.boolean(),
        recorded: count,
        failed: count.describe("Events failed by this delivery"),
        noted: count,
        unknown: count.describe("Identifiers Meterline has no event for"),
        unnamed: count.describe("Rejections Stripe counted without naming them"),
      }),
    ]),
  },
  errors: { 400: [ErrorCode.invalid_signature] },
};

/**
 * Billing sync's receiver for thin events (event destinations). The body must stay raw: the
 * signature is over the exact bytes, so this plugin parses JSON as a Buffer for itself only.
 */
export async function stripeEventsRoutes(
  app: FastifyInstance,
  deps: StripeEventsDeps,
): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.post(STRIPE_EVENTS_PATH, { config: { doc } }, async (request, reply) => {
    const raw = request.body;
    const signature = request.headers["stripe-signature"];
    if (!Buffer.isBuffer(raw) || typeof signature !== "string") {
      throw new ApiError(
        400,
        ErrorCode.invalid_signature,
        "Stripe-Signature header and a raw body are required",
      );
    }
    let notification: Stripe.V2.Core.EventNotification;
    try {
      notification = deps.stripe.parseEventNotification(raw, signature, deps.webhookSecret);
    } catch (err) {
      throw new ApiError(
        400,
        ErrorCode.invalid_signature,
        `Stripe-Signature did not verify: ${(err as Error).message}`,
      );
    }
    if (!ASYNC_REPORT_TYPES.has(notification.type)) {
      // Acknowledged so Stripe stops redelivering; nothing else subscribes to it yet.
      return reply.code(200).send({ received: true, handled: false });
    }
    const event = await notification.fetchEvent();
    if (
      event.type !== "v1.billing.meter.error_report_triggered" &&
      event.type !== "v1.billing.meter.no_meter_found"
    ) {
      return reply.code(200).send({ received: true, handled: false });
    }
    const report = readAsyncReport(event);
    const applied = await applyAsyncRejections(
      deps.db,
      { id: event.id, type: event.type, payload: event },
      report,
    );
    if (!applied.duplicate && report.unnamed > 0) {
      request.log.warn(
        { stripeEvent: event.id, unnamed: report.unnamed },
        "Stripe rejected more meter events than it named; reconcile against event summaries",
      );
    }
    if (applied.unknown.length > 0) {
      request.log.warn(
        { stripeEvent: event.id, identifiers: applied.unknown },
        "Stripe rejected identifiers Meterline has no event for; recorded in case they appear",
      );
    }
    return reply.code(200).send({
      received: true,
      handled: true,
      duplicate: applied.duplicate,
      recorded: applied.recorded.length,
      failed: applied.failed.length,
      noted: applied.noted.length,
      unknown: applied.unknown.length,
      unnamed: report.unnamed,
    });
  });
}
