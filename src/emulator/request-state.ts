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
  /**
   * The status the emulator decided to answer with, once decided (after the faults that turn a
   * success into a 500). A client that gave up before then closed the connection first: what
   * the request did is known only now.
   */
  answerStatus: number | null;
  /** Called once `answerStatus` is set (the request observer waits on it). */
  onAnswer: (() => void) | null;
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
    answerStatus: null,
    onAnswer: null,
  };
  states.set(req, state);
  return state;
}

/** The pipeline state of a request, or null outside the Stripe API scopes (admin routes). */
export function requestState(req: FastifyRequest): RequestState | null {
  return states.get(req) ?? null;
}

/** Record the status the request is answered with, and tell whoever waits for it. */
export function settleAnswer(state: RequestState, status: number): void {
  if (state.answerStatus !== null) return;
  state.answerStatus = status;
  state.onAnswer?.();
}

/**
 * Mark that the endpoint's parameters are valid and its work begins: from here a 4xx it
 * answers is stored under the Idempotency-Key and replayed, as Stripe does.
 */
export function beginExecution(req: FastifyRequest): void {
  const state = states.get(req);
  if (state) state.executing = true;
}
