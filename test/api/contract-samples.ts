import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { registerWorker } from "../../src/outbox/workers.ts";

/** One real request of the contract test, and the status it must get. */
export interface Sample {
  method: "GET" | "PUT" | "POST" | "DELETE";
  url: string;
  body?: unknown;
  /** Whose key it sends: admin unless said otherwise. */
  key?: "admin" | "ingest" | "none";
  /** Signs the body with the webhook secret (Stripe-Signature), as Stripe does. */
  signed?: boolean;
  status: number;
  /** Runs before the request: state the API cannot make (a dead letter, a worker's row). */
  before?: (db: Db) => Promise<void>;
}

const event = (id: string, more: Record<string, unknown> = {}) => ({
  id,
  customer: "acme",
  event_name: "api_calls",
  value: 3,
  ...more,
});

/**
 * Requests that between them give every documented route a success and a refusal, in an order
 * that builds the state each needs (a meter before events, a run before the latest run…). A new
 * route adds its pair here; the contract test fails until it does.
 */
export const samples: Sample[] = [
  { method: "PUT", url: "/v1/meters/api_calls", body: {}, status: 201 },
  { method: "PUT", url: "/v1/meters/api_calls", body: { status: "active" }, status: 200 },
  { method: "PUT", url: "/v1/meters/api_calls", body: { delivery_mode: "fax" }, status: 400 },
  { method: "GET", url: "/v1/meters", status: 200 },
  { method: "GET", url: "/v1/meters", key: "ingest", status: 403 },
  { method: "GET", url: "/v1/meters/api_calls", status: 200 },
  { method: "GET", url: "/v1/meters/nope", status: 404 },

  { method: "PUT", url: "/v1/customers/acme", status: 201 },
  {
    method: "PUT",
    url: "/v1/customers/acme",
    body: { stripe_customer_id: "cus_acme" },
    status: 200,
  },
  { method: "PUT", url: "/v1/customers/acme", body: { stripe_customr_id: "cus_x" }, status: 400 },
  { method: "GET", url: "/v1/customers/acme", status: 200 },
  { method: "GET", url: "/v1/customers/nobody", status: 404 },
  {
    method: "PUT",
    url: "/v1/customers/acme/subscription_items/api_calls",
    body: { subscription_item_id: "si_acme" },
    status: 200,
  },
  {
    method: "PUT",
    url: "/v1/customers/nobody/subscription_items/api_calls",
    body: { subscription_item_id: null },
    status: 404,
  },
  { method: "GET", url: "/v1/customers?stripe_customer_id=cus_acme", status: 200 },
  { method: "GET", url: "/v1/customers", status: 400 },
  { method: "PUT", url: "/v1/customers/gone", body: {}, status: 201 },
  { method: "DELETE", url: "/v1/customers/gone", status: 200 },
  { method: "DELETE", url: "/v1/customers/nobody", status: 404 },
  { method: "PUT", url: "/v1/customers/gone", body: {}, status: 409 },

  {
    method: "POST",
    url: "/v1/events",
    key: "ingest",
    body: { events: [event("e1"), event("e2", { timestamp: "2026-01-31T12:00:00Z" })] },
    status: 202,
  },
  { method: "POST", url: "/v1/events", key: "ingest", body: event("e1"), status: 202 },
  {
    method: "POST",
    url: "/v1/events",
    key: "ingest",
    body: event("e3", { value: -1 }),
    status: 400,
  },
  {
    method: "POST",
    url: "/v1/events",
    key: "ingest",
    body: event("e3", { customer: "nobody" }),
    status: 422,
  },
  { method: "POST", url: "/v1/events", key: "none", body: event("e3"), status: 401 },
  { method: "GET", url: "/v1/events/e1", key: "ingest", status: 200 },
  { method: "GET", url: "/v1/events/missing", key: "ingest", status: 404 },

  {
    method: "GET",
    url: "/v1/dead-letters",
    status: 200,
    // A dead letter to list: only a worker (or pre-flight) makes one through the API.
    before: async (db) => {
      await db.execute(sql`update usage_events
                        set status = 'failed', failed_at = now(), attempts = 1,
                            last_error_code = 'customer_deleted', last_error_message = 'deleted'
                      where id = 'e2'`);
    },
  },
  { method: "GET", url: "/v1/dead-letters?limit=0", status: 400 },
  { method: "GET", url: "/v1/dead-letters?cursor=nope", status: 400 },
  {
    method: "POST",
    url: "/v1/dead-letters/retry",
    body: { filter: {}, dry_run: true },
    status: 200,
  },
  { method: "POST", url: "/v1/dead-letters/retry", body: { ids: ["e2"] }, status: 200 },
  { method: "POST", url: "/v1/dead-letters/retry", body: {}, status: 400 },
  {
    method: "POST",
    url: "/v1/dead-letters/discard",
    body: { filter: {}, dry_run: true },
    status: 200,
  },
  { method: "POST", url: "/v1/dead-letters/discard", body: { ids: [] }, status: 400 },
  {
    method: "POST",
    url: "/v1/dead-letters/resolve",
    body: { ids: ["e1"], dry_run: true },
    status: 200,
  },
  {
    method: "POST",
    url: "/v1/dead-letters/resolve",
    body: { ids: ["e1"], filter: {} },
    status: 400,
  },

  {
    method: "POST",
    url: "/v1/events/cancel",
    body: { filter: { customer: "acme" }, reason: "test traffic", dry_run: true },
    status: 200,
  },
  {
    method: "POST",
    url: "/v1/events/cancel",
    body: { ids: ["missing"], reason: "x" },
    status: 404,
  },
  { method: "POST", url: "/v1/events/cancel", body: { ids: ["e1"] }, status: 400 },

  { method: "GET", url: "/v1/stats", status: 200 },
  { method: "GET", url: "/v1/stats", key: "none", status: 401 },
  {
    method: "GET",
    url: "/v1/workers",
    status: 200,
    before: (db) => registerWorker(db, { id: "worker-a", host: "host-a", pid: 42 }),
  },
  { method: "GET", url: "/v1/workers", key: "ingest", status: 403 },

  { method: "GET", url: "/v1/reconciliations/latest", status: 404 },
  { method: "POST", url: "/v1/reconciliations", body: { hours: 0 }, status: 400 },
  { method: "POST", url: "/v1/reconciliations", body: { hours: 2 }, status: 201 },
  { method: "GET", url: "/v1/reconciliations/latest", status: 200 },

  // Keys 1 and 2 are the test's own admin and ingest keys: the one made here is 3.
  {
    method: "POST",
    url: "/v1/api-keys",
    body: { name: "ci", role: "ingest", expires_in_days: 30 },
    status: 201,
  },
  { method: "POST", url: "/v1/api-keys", body: { name: "ci", role: "root" }, status: 400 },
  { method: "GET", url: "/v1/api-keys", status: 200 },
  { method: "GET", url: "/v1/api-keys", key: "ingest", status: 403 },
  { method: "DELETE", url: "/v1/api-keys/3", status: 200 },
  { method: "DELETE", url: "/v1/api-keys/999", status: 404 },

  // After the reconciliations above: the summary carries the latest, without its differences.
  {
    method: "GET",
    url: "/v1/dashboard",
    status: 200,
    before: (db) => registerWorker(db, { id: "worker-d", host: "host-d", pid: 7 }),
  },
  { method: "GET", url: "/v1/dashboard", key: "ingest", status: 403 },

  {
    method: "POST",
    url: "/webhooks/stripe",
    key: "none",
    signed: true,
    body: thinEvent("v2.core.event_destination.ping"),
    status: 200,
  },
  {
    method: "POST",
    url: "/webhooks/stripe",
    key: "none",
    body: thinEvent("v2.core.event_destination.ping"),
    status: 400,
  },
];

/** A thin event as Stripe delivers it to an event destination. */
function thinEvent(type: string) {
  return {
    id: "evt_test_contract",
    object: "v2.core.event",
    type,
    created: "2026-01-31T12:00:00.000Z",
    livemode: false,
  };
}
