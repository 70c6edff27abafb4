import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import type { DriftRow } from "../../src/db/schema/reconciliations.ts";
import { RECONCILE_HOURS } from "../../src/reconcile/limits.ts";
import { callApi } from "./api-process.ts";

/**
 * Dead-letter codes whose message asks a person to look the event up in Stripe: Meterline gave
 * up safely (it could not tell, or must not resend), and Stripe may hold the event.
 */
export const RECONCILE_CODES = [
  "dedup_window_expired",
  "usage_record_unverified",
  "retries_exhausted",
  "crash_loop",
] as const;

/** Ids per resolve request (the API's most is 1,000). */
const CHUNK = 500;

/** What the operator did. */
export interface Reconciliation {
  /** Dead letters with a code that asks for a look in Stripe. */
  examined: number;
  /** Those Stripe holds: resolved as delivered through the API. */
  resolved: string[];
  /** Requests the API refused (status and body), if any. */
  refusals: string[];
}

/**
 * Plays the person the dead letters ask for: for each event failed with a code of
 * RECONCILE_CODES, looks it up in Stripe (`heldByStripe`: the ledger, as a person reads the
 * dashboard) and resolves the ones Stripe holds as delivered, with POST
 * /v1/dead-letters/resolve. The others stay failed with their reason: Stripe does not hold them.
 */
export async function reconcile(
  db: Db,
  api: string,
  adminKey: string,
  heldByStripe: (id: string) => boolean,
): Promise<Reconciliation> {
  const failed = await rows<{ id: string }>(
    db,
    sql`select id from usage_events
        where status = 'failed'
          and last_error_code in (select jsonb_array_elements_text(${JSON.stringify(RECONCILE_CODES)}::jsonb))`,
  );
  const held = failed.map((r) => r.id).filter(heldByStripe);
  const out: Reconciliation = { examined: failed.length, resolved: [], refusals: [] };
  for (let i = 0; i < held.length; i += CHUNK) {
    const ids = held.slice(i, i + CHUNK);
    const answer = await callApi(api, "POST", "/v1/dead-letters/resolve", {
      key: adminKey,
      body: { ids, note: "chaos run: looked up in Stripe, which holds it" },
    });
    if (answer.status === 200) out.resolved.push(...ids);
    else out.refusals.push(`${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
  }
  return out;
}

/**
 * Runs the product's own reconciliation through the API, as `meterline reconcile` does, over
 * every hour Stripe keeps summaries for, with no settle margin (the run has drained): its drift,
 * or why it could not run.
 */
export async function productReconcile(
  api: string,
  adminKey: string,
): Promise<{ drift: readonly DriftRow[] } | { error: string }> {
  const res = await callApi(api, "POST", "/v1/reconciliations", {
    key: adminKey,
    body: { hours: RECONCILE_HOURS.max, settle_minutes: 0 },
  });
  if (res.status !== 201) return { error: `HTTP ${res.status}: ${JSON.stringify(res.body)}` };
  return { drift: (res.body as { drift: DriftRow[] }).drift };
}
