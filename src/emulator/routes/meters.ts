import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { isLiveRequest } from "../auth.ts";
import type { EmulatorContext } from "../context.ts";
import { invalidRequest, parameterMissing } from "../errors.ts";
import {
  asParams,
  optionalEnum,
  optionalObject,
  optionalString,
  type Params,
  pathId,
  rejectUnknown,
  requiredString,
} from "../params.ts";
import {
  allMeters,
  createMeter,
  DEFAULT_CUSTOMER_KEY,
  DEFAULT_VALUE_KEY,
  type MeterInput,
  retrieveMeter,
  setMeterStatus,
  updateMeter,
} from "../state/meters.ts";
import { LIST_PARAMS, paginate } from "./list.ts";

const CREATE_PARAMS = [
  "display_name",
  "event_name",
  "default_aggregation",
  "customer_mapping",
  "value_settings",
  "event_time_window",
  "expand",
] as const;

/** Parse a meter create request into a `MeterInput`, with Stripe's parameter errors. */
function meterInput(params: Params): MeterInput {
  rejectUnknown(params, CREATE_PARAMS);
  const display_name = requiredString(params, "display_name", { maxLength: 250 });
  const event_name = requiredString(params, "event_name", { maxLength: 100 });
  const aggregation = optionalObject(params, "default_aggregation");
  if (aggregation === undefined) throw parameterMissing("default_aggregation");
  rejectUnknown(aggregation, ["formula"], "default_aggregation");
  const formula = optionalEnum(
    aggregation,
    "formula",
    ["sum", "count", "last"] as const,
    "default_aggregation[formula]",
  );
  if (formula === undefined) throw parameterMissing("default_aggregation[formula]");

  const mapping = optionalObject(params, "customer_mapping");
  let customerKey = DEFAULT_CUSTOMER_KEY;
  if (mapping !== undefined) {
    rejectUnknown(mapping, ["event_payload_key", "type"], "customer_mapping");
    customerKey = requiredString(mapping, "event_payload_key", {
      maxLength: 100,
      param: "customer_mapping[event_payload_key]",
    });
    const type = requiredString(mapping, "type", { param: "customer_mapping[type]" });
    if (type !== "by_id") {
      throw invalidRequest("Invalid customer_mapping[type]: must be one of by_id", {
        param: "customer_mapping[type]",
      });
    }
  }

  const valueSettings = optionalObject(params, "value_settings");
  let valueKey = DEFAULT_VALUE_KEY;
  if (valueSettings !== undefined) {
    rejectUnknown(valueSettings, ["event_payload_key"], "value_settings");
    valueKey = requiredString(valueSettings, "event_payload_key", {
      maxLength: 100,
      param: "value_settings[event_payload_key]",
    });
  }

  const window = optionalEnum(params, "event_time_window", ["day", "hour"] as const) ?? null;
  return { display_name, event_name, formula, customerKey, valueKey, event_time_window: window };
}

/** Billing meters: create, list, retrieve, update, deactivate, reactivate. */
export function registerMeterRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post("/v1/billing/meters", async (req): Promise<Stripe.Billing.Meter> => {
    const live = isLiveRequest(req.headers.authorization);
    return createMeter(ctx.store, ctx.clock, live, meterInput(asParams(req.body)));
  });

  app.get("/v1/billing/meters", async (req): Promise<Stripe.ApiList<Stripe.Billing.Meter>> => {
    const params = asParams(req.query);
    rejectUnknown(params, [...LIST_PARAMS, "status"]);
    const status = optionalEnum(params, "status", ["active", "inactive"] as const);
    const meters = allMeters(ctx.store).filter((m) => !status || m.status === status);
    return paginate(meters, params, "/v1/billing/meters");
  });

  app.get(
    "/v1/billing/meters/:id",
    async (req): Promise<Stripe.Billing.Meter> => retrieveMeter(ctx.store, pathId(req.params)),
  );

  app.post("/v1/billing/meters/:id", async (req): Promise<Stripe.Billing.Meter> => {
    const params = asParams(req.body);
    rejectUnknown(params, ["display_name", "expand"]);
    const displayName = optionalString(params, "display_name", { maxLength: 250 });
    return updateMeter(ctx.store, ctx.clock, pathId(req.params), displayName);
  });

  app.post(
    "/v1/billing/meters/:id/deactivate",
    async (req): Promise<Stripe.Billing.Meter> =>
      setMeterStatus(ctx.store, ctx.clock, pathId(req.params), "inactive"),
  );

  app.post(
    "/v1/billing/meters/:id/reactivate",
    async (req): Promise<Stripe.Billing.Meter> =>
      setMeterStatus(ctx.store, ctx.clock, pathId(req.params), "active"),
  );
}
