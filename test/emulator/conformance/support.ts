import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { afterEach, expect } from "vitest";
import type {
  EmulatorDeps,
  EmulatorOptions,
  Exchange,
  RunningEmulator,
} from "../../../src/emulator/index.ts";
import { setup as startAndConnect } from "../helpers.ts";
import { ConformanceChecker, describeProblems } from "./openapi/conformance.ts";

/** 2026-11-24T12:00:00Z, minute-aligned, the emulator clock's start in these tests. */
export const T0 = Date.UTC(2026, 10, 24, 12, 0, 0) / 1000;

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** Holds answers to Stripe's OpenAPI document (test/fixtures/stripe). */
export const conformance = new ConformanceChecker();

// Every answer the emulators of the running test sent, checked when it ends.
const exchanges: Exchange[] = [];

/** The answers recorded so far in the running test (a copy). */
export function recordedExchanges(): Exchange[] {
  return exchanges.map((exchange) => ({ ...exchange }));
}

// The conformance suite's standing assertion: whatever a test did, every answer of the Stripe
// API it received — successes, errors, faults, replays — fits Stripe's document (save the
// deliberate departures in openapi/deviations.ts). A failure here fails the test that drew it.
afterEach(() => {
  const problems = exchanges.splice(0).flatMap((e) => describeProblems(conformance.check(e)));
  expect(problems, "answers that do not fit Stripe's OpenAPI document").toEqual([]);
});

/**
 * Start an emulator with a client, like helpers' `setup`, recording every answer of its Stripe
 * API for the conformance check above. Tests of this suite start emulators only through it.
 */
export function setup(
  options: EmulatorOptions = {},
  deps: EmulatorDeps = {},
): Promise<{ emu: RunningEmulator; stripe: Stripe }> {
  return startAndConnect(options, {
    ...deps,
    onExchange: (exchange) => {
      exchanges.push(exchange);
      deps.onExchange?.(exchange);
    },
  });
}

/** One POST an event destination received. */
export interface Received {
  body: string;
  headers: IncomingHttpHeaders;
}

/** A local event destination that records what it receives. */
export async function destination(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      received.push({ body, headers: req.headers });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/stripe/events`, received };
}

/** A client for the v2 meter event stream: the session token as key, the same host options. */
export function streamClient(emu: RunningEmulator, token: string): Stripe {
  return new Stripe(token, {
    host: "127.0.0.1",
    port: emu.port,
    protocol: "http",
    maxNetworkRetries: 0,
  });
}

/** The v1 meter event params for a customer. */
export function usageParams(
  customer: string,
  value = "1",
  identifier?: string,
): Stripe.Billing.MeterEventCreateParams {
  return {
    event_name: "api_requests",
    payload: { stripe_customer_id: customer, value },
    ...(identifier === undefined ? {} : { identifier }),
  };
}
