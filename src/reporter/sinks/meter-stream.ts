import type Stripe from "stripe";
import { withoutCallSiteStack } from "../stripe-client.ts";
import { describeStripeError } from "./describe-stripe-error.ts";
import { MeterEventSessions } from "./meter-event-session.ts";
import type { OutboundEvent, SendResult, UsageSink } from "./port.ts";

/** Stripe's limit: events per meter event stream request. */
export const STREAM_MAX_EVENTS = 100;

/** Options of the v2 meter event stream adapter. */
export interface MeterStreamOptions {
  /** Refresh the session once this share of its lifetime has passed; default 0.8. */
  refreshShare?: number;
  /** Source of now, ms; default Date.now (tests move it). */
  now?: () => number;
}

/** One event of a stream request, as stripe-node types it. */
export type StreamEvent = Parameters<
  Stripe["v2"]["billing"]["meterEventStream"]["create"]
>[0]["events"][number];

/** The stream event for one outbound event: RFC 3339 time, stable identifier, string payload. */
export function streamEvent(event: OutboundEvent): StreamEvent {
  return {
    event_name: event.eventName,
    payload: {
      [event.customerPayloadKey]: event.stripeCustomerId,
      [event.valuePayloadKey]: String(event.value),
    },
    identifier: event.identifier,
    // When it happened, never when it is sent.
    timestamp: event.occurredAt.toISOString(),
  };
}

/**
 * The v2 meter event stream adapter: up to 100 events per request, authenticated by a session
 * token the adapter creates and refreshes ahead of its 15 minutes (one session per adapter, so
 * build one adapter per process). A 401 `billing_meter_event_session_expired` (our clock and
 * Stripe's disagree) refreshes the session and resends the batch once, inside this call: no
 * attempt is charged for it. Stripe answers `{}` and validates the events later, so a 200 means
 * "accepted"; pre-flight and the asynchronous error reports catch bad events. Never throws for
 * an answer of Stripe's (only for a batch over 100, a caller's bug).
 */
export function fromMeterStream(stripe: Stripe, options: MeterStreamOptions = {}): UsageSink {
  const sessions = new MeterEventSessions(stripe, options.refreshShare ?? 0.8, options.now);

  async function post(events: OutboundEvent[], token: string): Promise<SendResult> {
    // The same client (host, timeout, no SDK retries) with the session token as this request's key.
    const res = (await withoutCallSiteStack(() =>
      stripe.v2.billing.meterEventStream.create(
        { events: events.map(streamEvent) },
        { apiKey: token },
      ),
    )) as unknown as { lastResponse?: { statusCode: number; requestId?: string } } | undefined;
    return {
      kind: "ok",
      status: res?.lastResponse?.statusCode ?? 200,
      requestId: res?.lastResponse?.requestId ?? null,
    };
  }

  async function sendBatch(events: OutboundEvent[]): Promise<SendResult> {
    if (events.length > STREAM_MAX_EVENTS) {
      throw new RangeError(`at most ${STREAM_MAX_EVENTS} events per stream request`);
    }
    let token: string;
    try {
      token = await sessions.token();
    } catch (err) {
      // The session create failed (revoked key, network): the same classification applies.
      return describeStripeError(err);
    }
    try {
      return await post(events, token);
    } catch (err) {
      const result = describeStripeError(err);
      if (!isSessionExpired(result)) return result;
      sessions.expire(token);
      try {
        return await post(events, await sessions.token());
      } catch (again) {
        // Expired twice in a row: classify() answers refresh_session, nothing is charged.
        return describeStripeError(again);
      }
    }
  }

  return {
    mode: "meter_stream",
    dedup: "identifier",
    maxBatch: STREAM_MAX_EVENTS,
    sendBatch,
    send: (event) => sendBatch([event]),
  };
}

function isSessionExpired(result: SendResult): boolean {
  return (
    result.kind === "http_error" &&
    (result.code === "billing_meter_event_session_expired" ||
      result.type === "temporary_session_expired")
  );
}
