import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { EmulatorContext } from "./context.ts";
import type { EndpointGroup } from "./endpoint-faults.ts";
import {
  apiError,
  idempotencyKeyInUse,
  idempotencyKeyTooLong,
  idempotencyMismatch,
  lockTimeout,
  rateLimited,
} from "./errors.ts";
import { asV2Error } from "./errors-v2.ts";
import { decideFault } from "./faults.ts";
import { fingerprintOf, MAX_IDEMPOTENCY_KEY_LENGTH } from "./idempotency.ts";
import type { RateClass } from "./rate-limits.ts";
import {
  initRequestState,
  type RequestState,
  requestState,
  settleAnswer,
} from "./request-state.ts";

/** Who is calling, as a scope's authentication found it. */
export interface Caller {
  /** The API key or session token. */
  caller: string;
  /** Whether it is a live-mode credential. */
  live: boolean;
}

/** How one API scope (v1, v2) plugs into the pipeline. */
export interface PipelineOptions {
  /** Which error envelope flavour (v2 429s carry type `rate_limit`). */
  api: "v1" | "v2";
  /** Authenticate the request (throw Stripe's 401) and say who is calling. */
  authenticate(req: FastifyRequest): Caller;
}

/** The endpoint group of a route, for per-endpoint faults. */
function groupOf(routeUrl: string): EndpointGroup {
  if (routeUrl === "/v1/billing/meter_events") return "meter_events";
  if (routeUrl === "/v2/billing/meter_event_stream") return "meter_event_stream";
  if (routeUrl === "/v1/subscription_items/:id/usage_records") return "usage_records";
  return "default";
}

/** The rate-limit bucket of a route. */
function rateClassOf(group: EndpointGroup): RateClass {
  return group === "meter_events" || group === "meter_event_stream" ? group : "general";
}

/**
 * Stripe's request pipeline, in Stripe's order, as hooks on one API scope:
 * authentication (401 before anything) → rate limiting (a 429 is never stored) → the fault
 * drawn for the endpoint group (injected 429s count as rate limiting) → the idempotency layer
 * (replay, mismatch, in use) → latency and injected 500s → the endpoint → storing the response
 * under the key, and the ambiguous faults that hide a result the layer has already stored.
 */
export function registerPipeline(
  scope: FastifyInstance,
  ctx: EmulatorContext,
  options: PipelineOptions,
): void {
  scope.addHook("onRequest", async (req) => {
    const { caller, live } = options.authenticate(req);
    const state = initRequestState(req, caller, live);
    const route = req.routeOptions.url ?? req.url;
    const group = groupOf(route);
    if (ctx.rateLimiter.exceeded(rateClassOf(group), `${req.method} ${route}`, live)) {
      throw rateLimited(options.api);
    }
    const faults = ctx.endpointFaults.effective(group);
    // A group without faults draws nothing, so a seeded random source replays the same
    // decisions however many setup requests (customers, meters) a test makes.
    if (Object.values(faults).some((v) => v > 0)) state.fault = decideFault(faults, ctx.random);
    if (state.fault.outcome === "rate_limit") throw rateLimited(options.api);
    if (state.fault.outcome === "lock_timeout") throw lockTimeout();
  });

  scope.addHook("preHandler", async (req, reply) => {
    const state = requestState(req);
    if (!state) return;
    if (req.method === "POST") {
      const replayed = checkIdempotency(ctx, req, reply, state);
      if (replayed) return reply;
    }
    if (state.fault.delayMs > 0) await sleep(state.fault.delayMs);
    if (state.fault.outcome === "error_500") {
      // A failure inside the endpoint before it wrote anything: execution began, so the
      // layer stores this 500 and replays it, as Stripe stores 500s.
      state.executing = true;
      throw apiError();
    }
  });

  scope.addHook("onSend", async (req, reply, payload) => {
    const state = requestState(req);
    if (!state) return payload;
    if (state.replayed) {
      settleAnswer(state, reply.statusCode);
      return payload;
    }
    let body = typeof payload === "string" ? payload : JSON.stringify(payload ?? null);
    const succeeded = reply.statusCode < 400;
    const outcome = state.fault.outcome;
    if (succeeded && outcome === "ambiguous_500") {
      // The work is done and is hidden behind a 500. Stripe's layer saves the 500 (it saves
      // whatever the execution produced), so a retry with the same key replays the 500 too:
      // only a new key, or the meter event's identifier, can tell the client what happened.
      reply.code(500);
      // Past the error handler here, so the v2 form (a code) is applied by hand.
      const failure = options.api === "v2" ? asV2Error(apiError()) : apiError();
      body = JSON.stringify(failure.envelope());
    }
    storeUnderKey(ctx, req, reply, state, body);
    settleAnswer(state, reply.statusCode);
    if (succeeded && outcome === "ambiguous_drop") {
      // Here the server finished and stored the success; only the network lost it. A retry
      // with the same key (stripe-node retries a closed connection once by itself) replays
      // the success instead of applying the request twice.
      req.raw.socket.destroy();
    } else if (succeeded && outcome === "timeout") {
      // Applied and stored, never answered: hold the socket until the client gives up.
      await new Promise<void>((resolve) => {
        if (req.raw.socket.destroyed) resolve();
        else req.raw.socket.once("close", () => resolve());
      });
    }
    return body;
  });
}

/** The idempotency layer's check; true when it answered with a stored response. */
function checkIdempotency(
  ctx: EmulatorContext,
  req: FastifyRequest,
  reply: FastifyReply,
  state: RequestState,
): boolean {
  const header = req.headers["idempotency-key"];
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || key === "") return false;
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw idempotencyKeyTooLong();
  const path = req.url.split("?")[0] ?? req.url;
  const verdict = ctx.idempotency.begin(
    state.caller,
    key,
    fingerprintOf(req.method, path, req.body),
  );
  if (verdict.kind === "mismatch") throw idempotencyMismatch(key);
  if (verdict.kind === "in_use") throw idempotencyKeyInUse(key);
  reply.header("Idempotency-Key", key);
  if (verdict.kind === "execute") {
    state.idempotencyKey = key;
    return false;
  }
  state.replayed = true;
  const { status, body, headers } = verdict.response;
  reply
    .code(status)
    .headers({ ...headers, "Idempotent-Replayed": "true" })
    .type("application/json; charset=utf-8")
    .send(body);
  return true;
}

/** Store the response under the request's key, or release the key when Stripe would not save it. */
function storeUnderKey(
  ctx: EmulatorContext,
  req: FastifyRequest,
  reply: FastifyReply,
  state: RequestState,
  body: string,
): void {
  const key = state.idempotencyKey;
  if (key === null) return;
  const status = reply.statusCode;
  const stored = status < 400 || status >= 500 || state.executing;
  if (!stored) {
    ctx.idempotency.release(state.caller, key);
    return;
  }
  // stripe-node: "we expect the stripe-should-retry header to be false in most cases when a
  // 500 is returned, since our idempotency framework would typically replay it anyway."
  if (status >= 500) reply.header("Stripe-Should-Retry", "false");
  const headers: Record<string, string> = { "Request-Id": req.id };
  const shouldRetry = reply.getHeader("Stripe-Should-Retry");
  if (typeof shouldRetry === "string") headers["Stripe-Should-Retry"] = shouldRetry;
  ctx.idempotency.complete(state.caller, key, { status, body, headers });
}
