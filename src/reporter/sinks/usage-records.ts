import { createHash } from "node:crypto";
import type Stripe from "stripe";
import { describeStripeError } from "./describe-stripe-error.ts";
import type { OutboundEvent, PeriodTotal, SendResult, UsageSink } from "./port.ts";

/**
 * The API version usage records are sent with. Stripe removed usage records in
 * 2025-03-31.basil (and stripe-node 18 dropped createUsageRecord), so every request pins the last
 * version before it; accounts still on legacy usage-based billing accept it.
 */
export const USAGE_RECORDS_API_VERSION = "2024-09-30.acacia";

/** Stripe's limit on an Idempotency-Key. */
export const IDEMPOTENCY_KEY_MAX = 255;

const PREFIX = "meterline-ur-";

/**
 * Stripe's limit on one endpoint, requests per second ("most endpoints 25/s", live mode): the
 * usage records endpoint is one of them, well under the account's 100/s. Sent at the account's
 * rate, most of them would come back 429.
 */
export const USAGE_RECORDS_RATE = 25;

/** Options of the usage records adapter. */
export interface UsageRecordsOptions {
  /** Override the pinned pre-basil API version. */
  apiVersion?: string;
}

/**
 * The Idempotency-Key of an event's usage record: a pure function of the event id and its key
 * generation, so every attempt, worker and replay of one generation sends the same key — usage
 * records have no identifier, and this key is their only dedup. Generation 0 is the plain key; a
 * new generation is taken only once Stripe's totals proved a stored 5xx left the record
 * unapplied (worker: verify-stored.ts). Keys too long for the 255-char limit are hashed.
 */
export function usageRecordKey(eventId: string, generation = 0): string {
  const id = generation === 0 ? eventId : `${eventId}~${generation}`;
  const key = `${PREFIX}${id}`;
  if (key.length <= IDEMPOTENCY_KEY_MAX) return key;
  return `${PREFIX}sha256-${createHash("sha256").update(id).digest("hex")}`;
}

/** One usage record summary, as Stripe's pre-basil API lists them. */
interface SummaryList {
  data?: Array<{ period?: { start?: number | null; end?: number | null }; total_usage?: number }>;
}

/**
 * The legacy usage records adapter: one POST /v1/subscription_items/{id}/usage_records per
 * event (action=increment, the event's own timestamp), through `rawRequest` pinned to a
 * pre-basil API version. Never throws: every answer becomes a SendResult.
 */
export function fromUsageRecords(stripe: Stripe, options: UsageRecordsOptions = {}): UsageSink {
  const apiVersion = options.apiVersion ?? USAGE_RECORDS_API_VERSION;
  return {
    mode: "usage_records",
    dedup: "idempotency_key",
    requestsPerSec: USAGE_RECORDS_RATE,
    async periodTotal(event: OutboundEvent): Promise<PeriodTotal | { missing: string } | null> {
      const item = event.subscriptionItemId;
      if (!item) return null;
      try {
        // Newest period first; the event's period is the current one or one just before it.
        const list = (await stripe.rawRequest(
          "GET",
          // rawRequest takes GET parameters in the path only.
          `/v1/subscription_items/${encodeURIComponent(item)}/usage_record_summaries?limit=10`,
          undefined,
          { apiVersion },
        )) as SummaryList;
        const at = Math.floor(event.occurredAt.getTime() / 1000);
        for (const s of list.data ?? []) {
          const start = s.period?.start ?? null;
          const end = s.period?.end ?? null;
          if (start === null || at < start || (end !== null && at >= end)) continue;
          return {
            start: new Date(start * 1000),
            // An open period (no end yet) runs on: the latest date JavaScript can hold.
            end: new Date(end === null ? 8.64e15 : end * 1000),
            total: s.total_usage ?? 0,
          };
        }
        return null;
      } catch (err) {
        // No such item: nothing can be filed on it, whatever the stored 5xx hides.
        const d = describeStripeError(err);
        if (d.kind === "http_error" && d.status === 404 && d.code === "resource_missing") {
          return { missing: d.message };
        }
        // Unreachable or refused otherwise: the caller retries, and asks again on the next 5xx.
        return null;
      }
    },
    async send(event: OutboundEvent): Promise<SendResult> {
      const item = event.subscriptionItemId;
      if (!item) {
        // Pre-flight resolves the item before any send, so this is a wiring bug. Nothing was
        // sent: answer as a customer-scope refusal (param subscription_item) naming the fix.
        return {
          kind: "http_error",
          status: 400,
          type: "invalid_request_error",
          code: "subscription_item_missing",
          message: `no subscription item resolved for meter "${event.eventName}"; set one with PUT /v1/customers/:key/subscription_items/${event.eventName}`,
          param: "subscription_item",
          shouldRetry: null,
          requestId: null,
        };
      }
      try {
        const res = (await stripe.rawRequest(
          "POST",
          `/v1/subscription_items/${encodeURIComponent(item)}/usage_records`,
          {
            quantity: event.value,
            // When it happened, never when it is sent: Stripe files it in that period.
            timestamp: Math.floor(event.occurredAt.getTime() / 1000),
            action: "increment",
          },
          { apiVersion, idempotencyKey: usageRecordKey(event.id, event.keyGeneration ?? 0) },
        )) as { lastResponse?: { statusCode: number; requestId?: string } } | undefined;
        return {
          kind: "ok",
          status: res?.lastResponse?.statusCode ?? 200,
          requestId: res?.lastResponse?.requestId ?? null,
        };
      } catch (err) {
        return explain(describeStripeError(err), event, item);
      }
    },
  };
}

/**
 * Usage records are validated synchronously, and Stripe's refusals carry no code: give the
 * ones a person must act on a stable code and the fix. Pure.
 */
export function explain(result: SendResult, event: OutboundEvent, item: string): SendResult {
  if (result.kind !== "http_error") return result;
  if (result.status === 404 && result.code === "resource_missing") {
    return {
      ...result,
      message: `${result.message} — the subscription item set for this customer and meter "${event.eventName}" does not exist in Stripe: set the right one with PUT /v1/customers/:key/subscription_items/${event.eventName}, then retry the event`,
    };
  }
  if (result.status !== 400 || result.param !== "timestamp") return result;
  if (/future/i.test(result.message)) {
    // Our clock is ahead of Stripe's: the event becomes valid by waiting (classify retries it).
    return { ...result, code: result.code ?? "timestamp_in_future" };
  }
  if (/billing period/i.test(result.message)) {
    return {
      ...result,
      code: result.code ?? "timestamp_outside_period",
      message: `${result.message} — occurred_at ${event.occurredAt.toISOString()} is outside the current billing period of subscription item ${item}; Stripe only takes usage records for the current period, so this usage can no longer be reported there. Bill it another way (e.g. an invoice item), then discard the event`,
    };
  }
  return result;
}
