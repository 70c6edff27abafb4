import type { FastifyInstance, FastifyRequest } from "fastify";

/**
 * One answer of the Stripe API routes (/v1, /v2) as it left the emulator: what conformance
 * tests check against Stripe's OpenAPI document. A request whose answer never went out (an
 * ambiguous fault's dropped connection, a timeout) is not an exchange.
 */
export interface Exchange {
  /** HTTP method of the request. */
  method: string;
  /** Request path without the query string, e.g. /v1/customers/cus_123. */
  path: string;
  /** HTTP status sent. */
  status: number;
  /** Response body as sent (JSON text; empty when there was none). */
  body: string;
}

/** Receives every exchange; must not throw (it runs while the answer is being sent). */
export type ExchangeObserver = (exchange: Exchange) => void;

/** A route the emulator serves on Stripe's API, in fastify's syntax (`/v1/customers/:id`). */
export interface ServedRoute {
  method: string;
  url: string;
}

/** Build an exchange from a request and the answer sent to it. */
export function exchangeOf(req: FastifyRequest, status: number, body: string): Exchange {
  const path = req.url.split("?")[0] ?? req.url;
  return { method: req.method, path, status, body };
}

/**
 * Report every answer of `scope`'s routes to `observer`. Registered after the request pipeline
 * in the same scope, so this onSend hook runs last and sees the final status and body: after
 * an injected fault turned a success into a 500, and for idempotent replays too.
 */
export function observeExchanges(scope: FastifyInstance, observer: ExchangeObserver): void {
  scope.addHook("onSend", async (req, reply, payload) => {
    // The pipeline destroys the socket for a dropped answer and waits out a timeout's: none
    // of those reached the client.
    if (req.raw.socket.destroyed) return payload;
    const body =
      typeof payload === "string" ? payload : Buffer.isBuffer(payload) ? payload.toString() : "";
    observer(exchangeOf(req, reply.statusCode, body));
    return payload;
  });
}

/** Tell `observer` about every Stripe API route registered on `app` from now on (HEAD aside). */
export function observeRoutes(app: FastifyInstance, observer: (route: ServedRoute) => void): void {
  app.addHook("onRoute", (route) => {
    if (!/^\/v[12]\//.test(route.url)) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    // fastify adds a HEAD route beside every GET by itself.
    for (const method of methods) if (method !== "HEAD") observer({ method, url: route.url });
  });
}
