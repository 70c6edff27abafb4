import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { afterEach } from "vitest";
import type { RunningEmulator } from "../../../src/emulator/index.ts";

/** 2026-11-24T12:00:00Z, minute-aligned, the emulator clock's start in these tests. */
export const T0 = Date.UTC(2026, 10, 24, 12, 0, 0) / 1000;

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

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
