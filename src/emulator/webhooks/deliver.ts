import { unixSeconds } from "../clock.ts";
import type { EmulatorContext, EventDestination } from "../context.ts";
import { buildErrorReports, type ThinEventRecord, thinPayload } from "../state/thin-events.ts";
import { signatureHeader } from "./sign.ts";

/** How long one delivery may take before it counts as failed. */
const DELIVERY_TIMEOUT_MS = 5_000;

/** The outcome of one POST to one destination. */
export interface Delivery {
  /** The event delivered. */
  event: string;
  /** The destination URL. */
  url: string;
  /** The HTTP status, or null when the request failed outright. */
  status: number | null;
  /** The error, when the request failed outright. */
  error: string | null;
}

/** What one flush produced: the events built and what each destination answered. */
export interface FlushResult {
  /** The full events (also served at GET /v2/core/events/{id}). */
  events: ThinEventRecord[];
  /** One entry per event × destination. */
  deliveries: Delivery[];
}

/**
 * POST one thin event, signed with the destination's secret at the emulator clock's time (a
 * receiver on another clock passes `receivedAt` or a tolerance). One attempt: Stripe retries
 * failed deliveries for days, the emulator does not (*simplification*), but the event stays
 * retrievable.
 */
async function deliver(
  ctx: EmulatorContext,
  destination: EventDestination,
  event: ThinEventRecord,
): Promise<Delivery> {
  const body = JSON.stringify(thinPayload(event));
  try {
    const res = await fetch(destination.url, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": signatureHeader(body, destination.secret, unixSeconds(ctx.clock)),
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
      },
      body,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await res.arrayBuffer();
    return { event: event.id, url: destination.url, status: res.status, error: null };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { event: event.id, url: destination.url, status: null, error: message };
  }
}

/** Build the error reports waiting in the log and deliver them to every destination. */
export async function flushErrorReports(ctx: EmulatorContext): Promise<FlushResult> {
  const events = buildErrorReports(ctx.store, ctx.clock.now());
  const deliveries = await Promise.all(
    events.flatMap((event) => ctx.destinations.map((d) => deliver(ctx, d, event))),
  );
  return { events, deliveries };
}

/**
 * Flush every `intervalMs` of real time (not emulator time: the report cadence is about the
 * receiver's patience, not about usage rules). Returns a stop function.
 */
export function scheduleErrorReports(
  ctx: EmulatorContext,
  intervalMs: number,
  onError: (error: unknown) => void,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running || ctx.store.asyncErrors.pending() === 0) return;
    running = true;
    flushErrorReports(ctx)
      .catch(onError)
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
