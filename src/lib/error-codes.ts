/**
 * Every `error.code` the HTTP API answers with, in one place. Clients branch on these, so a code
 * once published keeps its meaning; a new kind of refusal gets a new code here, not a literal in
 * a route. Keys equal values, so `ErrorCode.invalid_json` reads as what goes on the wire.
 */
export const ErrorCode = {
  // 400: the request itself is wrong.
  /** The body is not JSON, or is empty while Content-Type says JSON. */
  invalid_json: "invalid_json",
  /** The JSON body has the wrong shape or a bad field (`errors` names each). */
  invalid_body: "invalid_body",
  /** POST /v1/events: one or more events break a rule; nothing was stored (`errors` per field). */
  invalid_events: "invalid_events",
  /** A query-string parameter breaks its rule. */
  invalid_query: "invalid_query",
  /** A path parameter (`:key`, `:event_name`) breaks its rule. */
  invalid_param: "invalid_param",
  /** A string holds NUL (U+0000) or an unpaired surrogate: Postgres text cannot store it. */
  invalid_characters: "invalid_characters",
  /** GET /v1/dead-letters: `cursor` is not a next_cursor this API handed out. */
  invalid_cursor: "invalid_cursor",
  /** The URL's path does not percent-decode to UTF-8. */
  invalid_url: "invalid_url",
  /** The body's size does not match its Content-Length. */
  invalid_content_length: "invalid_content_length",
  /** The bytes are not valid HTTP/1.1 (bad header, bad request line…); the connection closes. */
  malformed_request: "malformed_request",
  /** Any other client error fastify raises, without a code of its own here. */
  bad_request: "bad_request",
  /** POST /webhooks/stripe: the Stripe-Signature is missing or does not verify. */
  invalid_signature: "invalid_signature",

  // 401, 403: who is asking.
  /** No API key, a malformed Authorization header, or an unknown, revoked or expired key. */
  unauthorized: "unauthorized",
  /** The key's role may not call this route. */
  forbidden: "forbidden",

  // 404, 405: what is asked for.
  /** No route has this path. */
  not_found: "not_found",
  /** GET /v1/events/:id: no event has that id. */
  event_not_found: "event_not_found",
  /** No customer has that key (or is linked to that Stripe id). */
  customer_not_found: "customer_not_found",
  /** No meter is declared for that event_name. */
  meter_not_found: "meter_not_found",
  /** GET /v1/reconciliations/latest: no reconciliation has finished yet. */
  reconciliation_not_found: "reconciliation_not_found",
  /** DELETE /v1/api-keys/:id: no API key has that id. */
  api_key_not_found: "api_key_not_found",
  /** The path exists under other methods (see the Allow header). */
  method_not_allowed: "method_not_allowed",

  // 408, 413, 414, 415, 431: the request's size, time or format.
  /** The client took longer than the request timeout to send its request. */
  request_timeout: "request_timeout",
  /** The body is larger than the body limit. */
  body_too_large: "body_too_large",
  /** A path segment is longer than the router reads. */
  url_too_long: "url_too_long",
  /** The body is not application/json. */
  unsupported_media_type: "unsupported_media_type",
  /** The request line and headers together exceed Node's header limit (often a long URL). */
  headers_too_large: "headers_too_large",

  // 409: the request conflicts with what is stored.
  /** An event id is already stored with other content. */
  conflicting_event: "conflicting_event",
  /** A named dead letter cannot be retried safely: Stripe no longer dedups its identifier. */
  dedup_window_expired: "dedup_window_expired",
  /** The Stripe customer id is linked to another customer. */
  stripe_customer_taken: "stripe_customer_taken",
  /** The customer was deleted (409 on PUT without restore; 422 when events name it). */
  customer_deleted: "customer_deleted",
  /** A named event to cancel exists but is not pending (reported, failed or discarded). */
  event_not_pending: "event_not_pending",
  /** A named event to cancel is leased: a worker may be sending it right now. */
  event_in_flight: "event_in_flight",

  // 422: the events name what does not exist.
  /** An event names a customer that does not exist. */
  unknown_customer: "unknown_customer",
  /** An event names an event_name with no meter declared. */
  unknown_event_name: "unknown_event_name",

  // 5xx: ours, not the client's.
  /** A server fault; the log has the details under the request id. */
  internal_error: "internal_error",
  /** The database is unavailable or busy; retry shortly (Retry-After). */
  service_unavailable: "service_unavailable",
  /** This API process has no Stripe key (STRIPE_SECRET_KEY), so it cannot ask Stripe anything. */
  stripe_not_configured: "stripe_not_configured",
  /** A reconciliation could not read Stripe's totals; the run is kept with the reason. */
  reconciliation_failed: "reconciliation_failed",
} as const;

/** One of the API's error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every `code` of one entry of `error.errors`: what is wrong with one field of one item. */
export const ItemErrorCode = {
  /** The field breaks its rule (the message says which). */
  invalid_value: "invalid_value",
  /** A required field is missing. */
  required: "required",
  /** A field the API does not know (often a typo: the message suggests the one meant). */
  unknown_field: "unknown_field",
  /** The item is not a JSON object. */
  invalid_type: "invalid_type",
  /** A string holds NUL (U+0000) or an unpaired surrogate: Postgres text cannot store it. */
  invalid_characters: "invalid_characters",
  /** An id repeats an earlier item of the same batch with other content. */
  conflicting_id: "conflicting_id",
  /** A timestamp outside 0001-01-01 to 9999-12-31 (UTC): Postgres cannot store it. */
  timestamp_out_of_range: "timestamp_out_of_range",
  /** A timestamp further ahead of the server's clock than ingest allows. */
  timestamp_too_far_ahead: "timestamp_too_far_ahead",
  /** 422: the event names a customer that does not exist. */
  unknown_customer: "unknown_customer",
  /** 422: the event names a deleted customer. */
  customer_deleted: "customer_deleted",
  /** 422: the event names an event_name with no meter declared. */
  unknown_event_name: "unknown_event_name",
} as const;

/** One of the codes of an item error. */
export type ItemErrorCode = (typeof ItemErrorCode)[keyof typeof ItemErrorCode];
