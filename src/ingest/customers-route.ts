import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { parseBody } from "../http/validation.ts";
import { ApiError } from "../lib/errors.ts";
import {
  customerView,
  deleteCustomer,
  findCustomerByStripeId,
  getCustomer,
  putCustomer,
} from "./customer-store.ts";
import { customerKeySchema, fieldRules } from "./event-input.ts";

/** Stripe customer ids: `cus_` and letters, digits or underscores. */
export const stripeCustomerIdSchema = z
  .string()
  .max(255)
  .regex(/^cus_\w+$/);

const stripeIdRule = 'must be a Stripe customer id like "cus_…"';

const putSchema = z.strictObject({
  stripe_customer_id: stripeCustomerIdSchema.nullable().optional(),
  restore: z.boolean().optional(),
});

const putRules = {
  stripe_customer_id: `${stripeIdRule}, or null to unlink`,
  restore: "must be true or false",
};

/**
 * Customers (admin): PUT creates or links (201 / 200), GET by key or by ?stripe_customer_id=,
 * DELETE marks deleted. The customer key in the URL follows the rule of an event's `customer`.
 */
export const customersRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.put<{ Params: { key: string } }>("/customers/:key", async (request, reply) => {
    const key = customerKey(request.params.key);
    const body = parseBody(putSchema, request.body, putRules);
    const { customer, created } = await putCustomer(db, key, {
      stripeCustomerId: body.stripe_customer_id,
      restore: body.restore,
    });
    return reply.status(created ? 201 : 200).send(customerView(customer));
  });

  app.get<{ Params: { key: string } }>("/customers/:key", async (request) => {
    const key = customerKey(request.params.key);
    const customer = await getCustomer(db, key);
    if (customer === null) throw notFound(`no customer with key "${key}"`);
    return customerView(customer);
  });

  app.get<{ Querystring: Record<string, unknown> }>("/customers", async (request) => {
    const stripeId = request.query.stripe_customer_id;
    if (stripeId === undefined) {
      throw new ApiError(
        400,
        "invalid_query",
        "stripe_customer_id is required: GET /v1/customers?stripe_customer_id=cus_… (or GET /v1/customers/:key)",
        { field: "stripe_customer_id" },
      );
    }
    const parsed = stripeCustomerIdSchema.safeParse(stripeId);
    if (!parsed.success) {
      throw new ApiError(400, "invalid_query", `stripe_customer_id ${stripeIdRule}`, {
        field: "stripe_customer_id",
      });
    }
    const customer = await findCustomerByStripeId(db, parsed.data);
    if (customer === null) throw notFound(`no customer is linked to ${parsed.data}`);
    return customerView(customer);
  });

  app.delete<{ Params: { key: string } }>("/customers/:key", async (request) => {
    const key = customerKey(request.params.key);
    const customer = await deleteCustomer(db, key);
    if (customer === null) throw notFound(`no customer with key "${key}"`);
    return customerView(customer);
  });
};

function customerKey(raw: string): string {
  const parsed = customerKeySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError(400, "invalid_param", `key ${fieldRules.customer}`, { field: "key" });
  }
  return parsed.data;
}

function notFound(message: string): ApiError {
  return new ApiError(404, "customer_not_found", message);
}
