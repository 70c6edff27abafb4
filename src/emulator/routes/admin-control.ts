import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { unixSeconds } from "../clock.ts";
import type { EmulatorContext } from "../context.ts";
import type { RateLimits } from "../rate-limits.ts";
import { priceObject } from "../state/prices.ts";
import { subscriptionObject } from "../state/subscription-object.ts";
import { findSubscription } from "../state/subscriptions.ts";
import { type FlushResult, flushErrorReports } from "../webhooks/deliver.ts";
import { badRequest } from "./admin.ts";

const clockBody = z.union([
  z.object({ advance_seconds: z.number().finite() }).strict(),
  z.object({ set: z.number().int().min(0) }).strict(),
]);

const destinationBody = z
  .object({ url: z.url(), secret: z.string().min(1, "must not be empty") })
  .strict();

/** Parse a body with a zod schema, or throw the 400 naming the field. */
function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw badRequest(parsed.error);
  return parsed.data;
}

/**
 * Admin routes that steer the emulated world: its clock, rate limits, event destinations and
 * error reports, and a read-only view of its state.
 */
export function registerControlRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const clockView = () => ({ now: unixSeconds(ctx.clock), now_ms: ctx.clock.now() });

  app.get("/_emulator/clock", async () => clockView());

  app.post("/_emulator/clock", async (req) => {
    const body = parse(clockBody, req.body);
    if ("advance_seconds" in body) ctx.clock.advance(body.advance_seconds);
    else ctx.clock.set(body.set);
    return clockView();
  });

  app.get("/_emulator/rate-limits", async (): Promise<RateLimits> => ctx.rateLimiter.current());

  app.post("/_emulator/rate-limits", async (req): Promise<RateLimits> => {
    try {
      return ctx.rateLimiter.configure(req.body ?? {});
    } catch (error) {
      if (error instanceof z.ZodError) throw badRequest(error);
      throw error;
    }
  });

  app.get("/_emulator/event-destinations", async () =>
    ctx.destinations.map((d) => ({ url: d.url })),
  );

  app.post("/_emulator/event-destinations", async (req) => {
    const destination = parse(destinationBody, req.body);
    ctx.destinations.push(destination);
    return { url: destination.url, registered: true };
  });

  app.post(
    "/_emulator/error-reports/flush",
    async (): Promise<FlushResult> => flushErrorReports(ctx),
  );

  app.get("/_emulator/state", async () => {
    const { store } = ctx;
    return {
      clock: clockView(),
      customers: [...store.customers.values()].map((e) =>
        e.deleted ? { id: e.customer.id, object: "customer", deleted: true } : e.customer,
      ),
      meters: [...store.meters.values()],
      products: [...store.products.values()],
      prices: [...store.prices.values()].map(priceObject),
      subscriptions: [...store.subscriptions.keys()].map((id) =>
        subscriptionObject(store, findSubscription(store, ctx.clock, id)),
      ),
      meter_event_sessions: [...store.sessions.values()].map((s) => s.session),
      events: [...store.events.values()],
      pending_async_errors: store.asyncErrors.pending(),
      idempotency_keys: ctx.idempotency.size(),
      rate_limits: ctx.rateLimiter.current(),
      faults: ctx.endpointFaults.describe(),
      ledger: store.ledger.snapshot(),
    };
  });
}
