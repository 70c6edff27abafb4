import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { parseBody } from "../validation/parse-body.ts";
import {
  customerView,
  customerViewSchema,
  customerWithItemsSchema,
  deleteCustomer,
  findCustomerByStripeId,
  getCustomer,
  listSubscriptionItems,
  putCustomer,
  putSubscriptionItem,
} from "./customer-store.ts";
import { customerKeySchema, eventNameSchema, fieldRules } from "./event-input.ts";

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

const putItemSchema = z.strictObject({
  subscription_item_id: z
    .string()
    .max(255)
    .regex(/^si_\w+$/)
    .nullable(),
});

const putItemRules = {
  subscription_item_id: 'must be a Stripe subscription item id like "si_…", or null to remove it',
};

const keyParam = z.object({ key: customerKeySchema });
const paramRules = { key: fieldRules.customer, event_name: fieldRules.event_name };
const stripeIdQuery = z.object({ stripe_customer_id: stripeCustomerIdSchema });

const docs = {
  put: {
    tag: "Customers",
    summary: "Create a customer, or link it to a Stripe customer (201 created, 200 updated).",
    description:
      "Producers' events name a customer by its key; an event naming none is refused (422 " +
      'unknown_customer). A deleted customer stays deleted unless the body says `"restore": true`.',
    params: keyParam,
    body: putSchema,
    rules: { ...paramRules, ...putRules },
    responses: { 200: customerViewSchema, 201: customerViewSchema },
    errors: {
      400: [ErrorCode.invalid_param, ErrorCode.invalid_body],
      409: [ErrorCode.customer_deleted, ErrorCode.stripe_customer_taken],
    },
  },
  get: {
    tag: "Customers",
    summary: "A customer by key, with its subscription items.",
    params: keyParam,
    rules: paramRules,
    responses: { 200: customerWithItemsSchema },
    errors: { 400: [ErrorCode.invalid_param], 404: [ErrorCode.customer_not_found] },
  },
  putItem: {
    tag: "Customers",
    summary: "Set (or with null remove) the subscription item a usage_records meter reports on.",
    params: keyParam.extend({ event_name: eventNameSchema }),
    body: putItemSchema,
    rules: { ...paramRules, ...putItemRules },
    responses: { 200: customerWithItemsSchema },
    errors: {
      400: [ErrorCode.invalid_param, ErrorCode.invalid_body],
      404: [ErrorCode.customer_not_found],
    },
  },
  byStripeId: {
    tag: "Customers",
    summary: "The customer linked to a Stripe customer id.",
    query: stripeIdQuery,
    rules: { stripe_customer_id: stripeIdRule },
    responses: { 200: customerViewSchema },
    errors: { 400: [ErrorCode.invalid_query], 404: [ErrorCode.customer_not_found] },
  },
  delete: {
    tag: "Customers",
    summary: "Mark a customer deleted: its pending events fail as customer_deleted.",
    params: keyParam,
    rules: paramRules,
    responses: { 200: customerViewSchema },
    errors: { 400: [ErrorCode.invalid_param], 404: [ErrorCode.customer_not_found] },
  },
} satisfies Record<string, RouteDoc>;

/**
 * Customers (admin): PUT creates or links (201 / 200), GET by key or by ?stripe_customer_id=,
 * DELETE marks deleted. The customer key in the URL follows the rule of an event's `customer`.
 */
export const customersRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.put<{ Params: { key: string } }>(
    "/customers/:key",
    { config: { doc: docs.put } },
    async (request, reply) => {
      const key = customerKey(request.params.key);
      const body = parseBody(putSchema, request.body, putRules);
      const { customer, created } = await putCustomer(db, key, {
        stripeCustomerId: body.stripe_customer_id,
        restore: body.restore,
      });
      return reply.status(created ? 201 : 200).send(customerView(customer));
    },
  );

  app.get<{ Params: { key: string } }>(
    "/customers/:key",
    { config: { doc: docs.get } },
    async (request) => {
      const key = customerKey(request.params.key);
      const customer = await getCustomer(db, key);
      if (customer === null) throw notFound(`no customer with key "${key}"`);
      return {
        ...customerView(customer),
        subscription_items: await listSubscriptionItems(db, key),
      };
    },
  );

  // The subscription item a usage_records meter's events of this customer are reported on.
  app.put<{ Params: { key: string; event_name: string } }>(
    "/customers/:key/subscription_items/:event_name",
    { config: { doc: docs.putItem } },
    async (request) => {
      const key = customerKey(request.params.key);
      const eventName = eventNameSchema.safeParse(request.params.event_name);
      if (!eventName.success) {
        throw new ApiError(400, ErrorCode.invalid_param, `event_name ${fieldRules.event_name}`, {
          field: "event_name",
        });
      }
      const body = parseBody(putItemSchema, request.body, putItemRules);
      const customer = await putSubscriptionItem(
        db,
        key,
        eventName.data,
        body.subscription_item_id,
      );
      if (customer === null) throw notFound(`no customer with key "${key}"`);
      return {
        ...customerView(customer),
        subscription_items: await listSubscriptionItems(db, key),
      };
    },
  );

  app.get<{ Querystring: Record<string, unknown> }>(
    "/customers",
    { config: { doc: docs.byStripeId } },
    async (request) => {
      const stripeId = request.query.stripe_customer_id;
      if (stripeId === undefined) {
        throw new ApiError(
          400,
          ErrorCode.invalid_query,
          "stripe_customer_id is required: GET /v1/customers?stripe_customer_id=cus_… (or GET /v1/customers/:key)",
          { field: "stripe_customer_id" },
        );
      }
      const parsed = stripeCustomerIdSchema.safeParse(stripeId);
      if (!parsed.success) {
        throw new ApiError(400, ErrorCode.invalid_query, `stripe_customer_id ${stripeIdRule}`, {
          field: "stripe_customer_id",
        });
      }
      const customer = await findCustomerByStripeId(db, parsed.data);
      if (customer === null) throw notFound(`no customer is linked to ${parsed.data}`);
      return customerView(customer);
    },
  );

  app.delete<{ Params: { key: string } }>(
    "/customers/:key",
    { config: { doc: docs.delete } },
    async (request) => {
      const key = customerKey(request.params.key);
      const customer = await deleteCustomer(db, key);
      if (customer === null) throw notFound(`no customer with key "${key}"`);
      return customerView(customer);
    },
  );
};

function customerKey(raw: string): string {
  const parsed = customerKeySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError(400, ErrorCode.invalid_param, `key ${fieldRules.customer}`, {
      field: "key",
    });
  }
  return parsed.data;
}

function notFound(message: string): ApiError {
  return new ApiError(404, ErrorCode.customer_not_found, message);
}
