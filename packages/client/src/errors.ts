/** One item error as the server names it: where in the batch, which field, which rule. */
export interface ServerItemError {
  index: number;
  field: string;
  code: string;
  message: string;
}

/** The error envelope every Meterline refusal carries. */
export interface ServerErrorBody {
  error?: {
    code?: string;
    message?: string;
    field?: string;
    errors?: ServerItemError[];
  };
}

/**
 * The server refused one event for good (a bad field, an unknown customer or meter, an id
 * reused with other content). It is not retried: it would be refused again. Carries the
 * server's code, the field, and the event's id and position in the batch it was sent in.
 */
export class EventRejectedError extends Error {
  override readonly name = "EventRejectedError";
  constructor(
    readonly status: number,
    readonly code: string,
    readonly field: string,
    /** Position of the event in the batch the server saw. */
    readonly index: number,
    /** The event's id (the one the client made, if the caller gave none). */
    readonly eventId: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The request as a whole was refused in a way that says nothing about its events (a revoked
 * or wrong key, a wrong URL, a body the server could not read). The events are kept and sent
 * again with backoff: dropping them here is how a revoked key would silently lose a queue.
 */
export class RequestRefusedError extends Error {
  override readonly name = "RequestRefusedError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A send that will be tried again: the network, a timeout, a 5xx or a 429. */
export class TransientError extends Error {
  override readonly name = "TransientError";
  constructor(
    /** The HTTP status, or 0 when no answer came. */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Anything the client reports through `onError`. */
export type MeterlineError = EventRejectedError | RequestRefusedError | TransientError;
