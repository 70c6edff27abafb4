/** Stripe's limit on a meter event's `identifier`. */
export const STRIPE_IDENTIFIER_MAX = 100;

/**
 * The Stripe identifier of an event: the event id itself. Identical on every attempt, worker and
 * replay, which is what makes a resend after an ambiguous answer safe (Stripe answers a repeat
 * with "An event already exists"). Ingest limits ids to 100 chars of [A-Za-z0-9._:-], so it fits
 * Stripe's limit, and an operator can paste it into Stripe's dashboard as is. A row written
 * straight into the table with a longer id is refused by Stripe at once (event scope): a hash
 * would hide that producer bug and make the event impossible to find in Stripe.
 */
export function identifierFor(eventId: string): string {
  return eventId;
}
