/**
 * One usage event as POST /v1/events takes it (the server's zod schema, src/ingest/event-input.ts;
 * a type test holds the two equal).
 */
export interface WireEvent {
  /** 1 to 100 characters of A-Z a-z 0-9 . _ : -; Stripe's identifier for the event. */
  id: string;
  /** The platform's customer key. */
  customer: string;
  /** The meter's event name. */
  event_name: string;
  /** A whole number ≥ 0. */
  value: number;
  /** RFC 3339 with offset, or whole Unix seconds; the time of receipt when absent. */
  timestamp?: string | number | undefined;
}

/** What `track` takes: an id and a time are made when absent, and kept across every retry. */
export interface TrackInput {
  customer: string;
  event_name: string;
  value: number;
  /** When the usage happened: a Date, RFC 3339, or Unix seconds; default: when `track` is called. */
  timestamp?: Date | string | number;
  /** Your own id for the event (a retry of yours with the same id is stored once); default: a UUIDv7. */
  id?: string;
}
