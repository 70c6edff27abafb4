import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { deliveryModes } from "../db/schema/meters.ts";
import { eventNameSchema, fieldRules } from "../ingest/event-input.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { parseBody } from "../validation/parse-body.ts";
import { getMeter, listMeters, meterView, meterViewSchema, putMeter } from "./meter-store.ts";

// A payload key travels form-encoded as payload[<key>] to Stripe: brackets would nest it.
const payloadKey = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^[\]]+$/);

const putSchema = z.strictObject({
  stripe_meter_id: z
    .string()
    .max(255)
    .regex(/^mtr_\w+$/)
    .nullable()
    .optional(),
  status: z.enum(["active", "inactive"]).optional(),
  delivery_mode: z.enum(deliveryModes).optional(),
  customer_payload_key: payloadKey.optional(),
  value_payload_key: payloadKey.optional(),
});

const payloadKeyRule = "must be a string of 1 to 100 characters without [ or ]";
const putRules = {
  stripe_meter_id: 'must be a Stripe meter id like "mtr_…", or null to clear it',
  status: "must be active or inactive",
  delivery_mode: `must be one of ${deliveryModes.join(", ")}`,
  customer_payload_key: payloadKeyRule,
  value_payload_key: payloadKeyRule,
};

const eventNameParams = z.object({ event_name: eventNameSchema });
const paramRules = { event_name: fieldRules.event_name };

const docs = {
  put: {
    tag: "Meters",
    summary: "Declare a meter, or update the fields the body names (201 created, 200 updated).",
    description:
      "Producers' events name a meter by its event_name; an event naming none is refused (422 " +
      "unknown_event_name). Events of an inactive meter, or of one without a stripe_meter_id, " +
      "wait in the queue until it is ready.",
    params: eventNameParams,
    body: putSchema,
    rules: { ...paramRules, ...putRules },
    responses: { 200: meterViewSchema, 201: meterViewSchema },
    errors: { 400: [ErrorCode.invalid_param, ErrorCode.invalid_body] },
  },
  list: {
    tag: "Meters",
    summary: "Every meter.",
    responses: { 200: z.object({ data: z.array(meterViewSchema) }) },
  },
  get: {
    tag: "Meters",
    summary: "One meter by its event_name.",
    params: eventNameParams,
    rules: paramRules,
    responses: { 200: meterViewSchema },
    errors: { 400: [ErrorCode.invalid_param], 404: [ErrorCode.meter_not_found] },
  },
} satisfies Record<string, RouteDoc>;

/**
 * Meters (admin): PUT /v1/meters/:event_name declares a meter or updates the fields it names
 * (201 created / 200 updated); GET lists them or shows one. Producers' events name a meter by
 * its event_name; an event naming none is refused at ingest (422 unknown_event_name).
 */
export const metersRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.put<{ Params: { event_name: string } }>(
    "/meters/:event_name",
    { config: { doc: docs.put } },
    async (request, reply) => {
      const eventName = eventNameParam(request.params.event_name);
      const body = parseBody(putSchema, request.body, putRules);
      const { meter, created } = await putMeter(db, eventName, {
        stripeMeterId: body.stripe_meter_id,
        status: body.status,
        deliveryMode: body.delivery_mode,
        customerPayloadKey: body.customer_payload_key,
        valuePayloadKey: body.value_payload_key,
      });
      return reply.status(created ? 201 : 200).send(meterView(meter));
    },
  );

  app.get("/meters", { config: { doc: docs.list } }, async () => ({
    data: (await listMeters(db)).map(meterView),
  }));

  app.get<{ Params: { event_name: string } }>(
    "/meters/:event_name",
    { config: { doc: docs.get } },
    async (request) => {
      const eventName = eventNameParam(request.params.event_name);
      const meter = await getMeter(db, eventName);
      if (meter === null) {
        throw new ApiError(
          404,
          ErrorCode.meter_not_found,
          `no meter for event_name "${eventName}"`,
        );
      }
      return meterView(meter);
    },
  );
};

function eventNameParam(raw: string): string {
  const parsed = eventNameSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError(400, ErrorCode.invalid_param, `event_name ${fieldRules.event_name}`, {
      field: "event_name",
    });
  }
  return parsed.data;
}
