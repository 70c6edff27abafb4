import Stripe from "stripe";

/** Where the reporter's Stripe client sends requests, and how long it waits. */
export interface StripeClientOptions {
  secretKey: string;
  /** e.g. http://127.0.0.1:12111 for the emulator; null for the real Stripe. */
  apiBase: string | null;
  timeoutMs: number;
}

/**
 * The reporter's Stripe client. `maxNetworkRetries: 0`: the reporter owns its retries (with
 * its own backoff, attempt counting and dedup window); SDK retries would hide attempts from it.
 * The host/port/protocol override applies to every Stripe host, so the emulator serves it all.
 */
export function createStripeClient({ secretKey, apiBase, timeoutMs }: StripeClientOptions): Stripe {
  const base = apiBase === null ? {} : hostOf(apiBase);
  return new Stripe(secretKey, {
    maxNetworkRetries: 0,
    timeout: timeoutMs,
    // Telemetry headers describe the previous request; noise for the emulator, none for us.
    telemetry: false,
    ...base,
  });
}

function hostOf(apiBase: string): { host: string; port: number; protocol: "http" | "https" } {
  const url = new URL(apiBase);
  const protocol = url.protocol === "http:" ? "http" : "https";
  const port = url.port === "" ? (protocol === "http" ? 80 : 443) : Number(url.port);
  return { host: url.hostname, port, protocol };
}

/**
 * Starts an SDK call with V8's stack capture off. stripe-node records the caller's stack on
 * every request (`new Error().stack` in StripeResource._makeRequest, before its first await) to
 * append it to a failed request's error; formatting it cost ~20 µs of a v1 meter event's
 * ~150 µs in the SDK, and ~50 µs of each v2 stream request, for a stack the reporter never
 * reads: it classifies an error by its type, status and code (describe-stripe-error.ts). Only
 * the synchronous start is affected: the limit is restored before anything else runs, and
 * errors made later keep their stacks.
 */
export function withoutCallSiteStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
