/** Stripe's meter event summaries reach back 35 days at most: so may a reconciliation. */
export const RECONCILE_HOURS = { default: 48, max: 35 * 24 } as const;
/** How long Stripe's totals may lag an event reported: left out of the comparison meanwhile. */
export const SETTLE_MINUTES = { default: 10, max: 24 * 60 } as const;
