import Stripe from "stripe";
import { afterEach } from "vitest";
import {
  type EmulatorDeps,
  type EmulatorOptions,
  type RunningEmulator,
  startEmulator,
} from "../../src/emulator/index.ts";

const running: RunningEmulator[] = [];

// Every emulator a test starts is closed after it, pass or fail.
afterEach(async () => {
  await Promise.all(running.splice(0).map((emu) => emu.close()));
});

/** A Stripe client pointed at the emulator the way Meterline points it: no SDK retries. */
export function clientFor(emu: RunningEmulator, key = emu.apiKey): Stripe {
  return new Stripe(key, {
    host: "127.0.0.1",
    port: emu.port,
    protocol: "http",
    maxNetworkRetries: 0,
  });
}

/** Start an emulator on a free port, with a client for its first key. */
export async function setup(
  options: EmulatorOptions = {},
  deps: EmulatorDeps = {},
): Promise<{ emu: RunningEmulator; stripe: Stripe }> {
  const emu = await startEmulator({ port: 0, ...options }, deps);
  running.push(emu);
  return { emu, stripe: clientFor(emu) };
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail, it succeeded");
}

/** Call an admin route with plain fetch (they take no Stripe key). */
export async function admin(
  emu: RunningEmulator,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(`${emu.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

/** A clock the test moves by hand. */
export function manualClock(startMs: number): { now(): number; advance(ms: number): void } {
  let now = startMs;
  return { now: () => now, advance: (ms) => (now += ms) };
}

/** A random source that replays `values` in order, then repeats the last one. */
export function replay(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0;
}

/** A customer and a sum meter for `event_name`, the usual starting point. */
export async function customerAndMeter(
  stripe: Stripe,
  eventName = "api_requests",
): Promise<{ customer: Stripe.Customer; meter: Stripe.Billing.Meter }> {
  const customer = await stripe.customers.create({ name: "Acme" });
  const meter = await stripe.billing.meters.create({
    display_name: "API requests",
    event_name: eventName,
    default_aggregation: { formula: "sum" },
  });
  return { customer, meter };
}
