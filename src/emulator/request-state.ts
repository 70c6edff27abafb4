import type { FastifyRequest } from "fastify";
import type { FaultDecision } from "./faults.ts";

/** What the request pipeline knows about one request, kept beside it (no fastify decoration). */
export interface RequestState {
  /** Who is calling: the API key or session token, the idempotency and rate-limit scope. */
  caller: string;
  /** Whether the caller is in live mode. */
  live: boolean;
  /** The fault drawn for this request. */
  fault: FaultDecision;
  /** The Idempotency-Key this request reserved, if any. */
  idempotencyKey: string | null;
  /** Set when the layer answered with a stored response. */
  replayed: boolean;
  /**
   * Set once the endpoint has validated its parameters and begun its work. Stripe saves a
   * 4xx under the key only from then on ("we save results only after the execution of an
   * endpoint begins"); a 2xx or 5xx always got that far.
   */
  executing: boolean;
}

const states = new WeakMap<FastifyRequest, RequestState>();

/** Attach the pipeline state to a request (done once, by the auth hook). */
export function initRequestState(req: FastifyRequest, caller: string, live: boolean): RequestState {
  const state: RequestState = {
    caller,
    live,
    fault: { delayMs: 0, outcome: "none" },
    idempotencyKey: null,
    replayed: false,
    executing: false,
  };
  states.set(req, state);
  return state;
}

/** The pipeline state of a request, or null outside the Stripe API scopes (admin routes). */
export function requestState(req: FastifyRequest): RequestState | null {
  return states.get(req) ?? null;
}

/**
 * Mark that the endpoint's parameters are valid and its work begins: from here a 4xx it
 * answers is stored under the Idempotency-Key and replayed, as Stripe does.
 */
export function beginExecution(req: FastifyRequest): void {
  const state = states.get(req);
  if (state) state.executing = true;
}
