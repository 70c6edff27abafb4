import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { afterAll, beforeAll, expect } from "vitest";
import { STRIPE_EVENTS_PATH, stripeEventsRoutes } from "../../src/billing/stripe-events-route.ts";
import { defaultConfig } from "../../src/config.ts";
import type { Database } from "../../src/db/connect.ts";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index.ts";
import { buildApp } from "../../src/http/app.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import { freshDatabase } from "../support/db.ts";

/** The signing secret of the suites' event destination. */
export const SECRET = "whsec_test_billing_sync";

/**
 * What a billing sync suite works against: its own database, the emulator (which sends signed
 * thin events to the app's real route when flushed), and the app listening on a real port.
 */
export interface BillingSuite {
  database: Database;
  emulator: RunningEmulator;
  stripe: Stripe;
  app: FastifyInstance;
  /** The route's URL on the listening app. */
  url: string;
}

/**
 * Opens a fresh database of `kind`, starts the emulator (error reports only when flushed) and the
 * app with billing sync's route, before the suite's tests; closes them after.
 */
export function billingSuite(kind: Database["kind"]): BillingSuite {
  const suite = {} as BillingSuite;
  beforeAll(async () => {
    suite.database = await freshDatabase(kind);
    suite.emulator = await startEmulator({ port: 0, errorReportIntervalMs: 0 });
    suite.stripe = createStripeClient({
      secretKey: suite.emulator.apiKey,
      apiBase: suite.emulator.url,
      timeoutMs: 5_000,
    });
    suite.app = await buildApp({ db: suite.database.db, config: defaultConfig() });
    await suite.app.register(stripeEventsRoutes, {
      db: suite.database.db,
      stripe: suite.stripe,
      webhookSecret: SECRET,
    });
    await suite.app.listen({ host: "127.0.0.1", port: 0 });
    const address = suite.app.server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    suite.url = `http://127.0.0.1:${port}${STRIPE_EVENTS_PATH}`;
    suite.emulator.addEventDestination({ url: suite.url, secret: SECRET });
  });
  afterAll(async () => {
    await suite.app?.close();
    await suite.emulator?.close();
    await suite.database?.close();
  });
  return suite;
}

/**
 * Has the emulator send its waiting error reports to the route, checks that every delivery was
 * answered 200, and returns the ids of the thin events sent.
 */
export async function flushReports(suite: BillingSuite): Promise<string[]> {
  const flushed = await suite.emulator.flushErrorReports();
  expect(flushed.deliveries.map((d) => d.status)).toEqual(flushed.events.map(() => 200));
  return flushed.events.map((e) => e.id);
}

/**
 * Delivers a thin event again, as Stripe does at will: the same notification, signed afresh,
 * POSTed to the route over HTTP. Returns the status and the JSON body.
 */
export async function redeliver(
  suite: BillingSuite,
  stripeEventId: string,
  type = "v1.billing.meter.error_report_triggered",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = JSON.stringify({
    id: stripeEventId,
    object: "v2.core.event",
    type,
    created: new Date().toISOString(),
    livemode: false,
  });
  const res = await fetch(suite.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "stripe-signature": suite.stripe.webhooks.generateTestHeaderString({
        payload: body,
        secret: SECRET,
      }),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
