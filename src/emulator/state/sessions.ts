import type Stripe from "stripe";
import { type Clock, isoTime } from "../clock.ts";
import { sessionExpired } from "../errors-v2.ts";
import { randomToken } from "../ids.ts";
import type { Store } from "./store.ts";

/** A meter event session token lives 15 minutes (Stripe's documented figure). */
export const SESSION_LIFETIME_MS = 15 * 60 * 1000;

/** A session as the emulator keeps it. */
export interface SessionRecord {
  /** The object the create call returned. */
  session: Stripe.V2.Billing.MeterEventSession;
  /** Expiry, emulator clock ms. */
  expiresMs: number;
}

/**
 * Create a meter event session for the caller's mode. The id and token formats are
 * *unverified* (Stripe documents neither); the token is what the stream takes as Bearer.
 */
export function createSession(
  store: Store,
  clock: Clock,
  live: boolean,
): Stripe.V2.Billing.MeterEventSession {
  const now = clock.now();
  pruneSessions(store, now);
  const mode = live ? "live" : "test";
  const session: Stripe.V2.Billing.MeterEventSession = {
    id: `mes_${mode}_${randomToken(24)}`,
    object: "v2.billing.meter_event_session",
    authentication_token: `ek_${mode}_${randomToken(40)}`,
    created: isoTime(now),
    expires_at: isoTime(now + SESSION_LIFETIME_MS),
    livemode: live,
  };
  store.sessions.set(session.authentication_token, {
    session,
    expiresMs: now + SESSION_LIFETIME_MS,
  });
  return { ...session };
}

/**
 * The session a stream request's token names: null for a token never issued (401 from the
 * caller), Stripe's `billing_meter_event_session_expired` 401 for an expired one. Expired
 * sessions are kept a further day so they still answer "expired", then pruned.
 */
export function sessionForToken(store: Store, clock: Clock, token: string): SessionRecord | null {
  const record = store.sessions.get(token);
  if (!record) return null;
  if (clock.now() >= record.expiresMs) throw sessionExpired();
  return record;
}

function pruneSessions(store: Store, nowMs: number): void {
  for (const [token, record] of store.sessions) {
    if (nowMs - record.expiresMs > 24 * 60 * 60 * 1000) store.sessions.delete(token);
  }
}
