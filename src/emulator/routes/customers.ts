import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { isLiveRequest } from "../auth.ts";
import type { EmulatorContext } from "../context.ts";
import {
  asParams,
  optionalString,
  optionalStringMap,
  type Params,
  pathId,
  rejectUnknown,
} from "../params.ts";
import {
  type CustomerFields,
  createCustomer,
  deleteCustomer,
  liveCustomers,
  retrieveCustomer,
  updateCustomer,
} from "../state/customers.ts";
import { LIST_PARAMS, paginate } from "./list.ts";

const FIELDS = ["name", "email", "description", "phone", "metadata", "expand"] as const;

/** The customer fields of a create or update request; others are `parameter_unknown`. */
function customerFields(params: Params): CustomerFields {
  rejectUnknown(params, FIELDS);
  return {
    name: optionalString(params, "name", { maxLength: 256 }),
    email: optionalString(params, "email", { maxLength: 512 }),
    description: optionalString(params, "description", { maxLength: 350 }),
    phone: optionalString(params, "phone", { maxLength: 20 }),
    metadata: optionalStringMap(params, "metadata"),
  };
}

/** Customers: create, retrieve (deleted ones as `{deleted: true}`), update, delete, list. */
export function registerCustomerRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post("/v1/customers", async (req): Promise<Stripe.Customer> => {
    const live = isLiveRequest(req.headers.authorization);
    return createCustomer(ctx.store, ctx.clock, live, customerFields(asParams(req.body)));
  });

  app.get(
    "/v1/customers/:id",
    async (req): Promise<Stripe.Customer | Stripe.DeletedCustomer> =>
      retrieveCustomer(ctx.store, pathId(req.params)),
  );

  app.post(
    "/v1/customers/:id",
    async (req): Promise<Stripe.Customer> =>
      updateCustomer(ctx.store, pathId(req.params), customerFields(asParams(req.body))),
  );

  app.delete(
    "/v1/customers/:id",
    async (req): Promise<Stripe.DeletedCustomer> => deleteCustomer(ctx.store, pathId(req.params)),
  );

  app.get("/v1/customers", async (req): Promise<Stripe.ApiList<Stripe.Customer>> => {
    const params = asParams(req.query);
    rejectUnknown(params, [...LIST_PARAMS, "email"]);
    const email = optionalString(params, "email");
    const customers = liveCustomers(ctx.store).filter((c) => !email || c.email === email);
    return paginate(customers, params, "/v1/customers");
  });
}
