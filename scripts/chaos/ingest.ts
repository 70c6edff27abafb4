import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { coerceError } from "../../src/lib/errors.ts";
import { callApi } from "./api-process.ts";
import type { Finding } from "./findings.ts";
import type { PlannedEvent } from "./plan.ts";

/** Events per POST /v1/events: the API's most. */
const BATCH = 1_000;

/** One item of a POST /v1/events body. */
type Item = Record<string, unknown>;

const item = (e: PlannedEvent): Item => ({
  id: e.id,
  customer: e.customerKey,
  event_name: e.eventName,
  value: e.value,
  timestamp: e.occurredAt.toISOString(),
});

/** What the good batches did: the ids the API accepted (202), and the refusals. */
export interface GoodIngest {
  accepted: number;
  refused: Finding[];
}

/** Sends healthy events through the API in batches of 1,000, as producers do. */
export async function sendGoodBatches(
  api: string,
  key: string,
  events: readonly PlannedEvent[],
): Promise<GoodIngest> {
  const result: GoodIngest = { accepted: 0, refused: [] };
  for (let i = 0; i < events.length; i += BATCH) {
    const batch = events.slice(i, i + BATCH);
    const answer = await callApi(api, "POST", "/v1/events", {
      key,
      body: { events: batch.map(item) },
    });
    if (answer.status === 202) result.accepted += batch.length;
    else {
      result.refused.push({
        subject: `batch of ${batch.length} from ${batch[0]?.id}`,
        detail: `answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 200)}`,
      });
    }
  }
  return result;
}

/** One bad batch sent, and what became of it. */
export interface BadBatch {
  name: string;
  status: number;
  /** Of the batch's event ids, how many the outbox holds afterwards (must be 0). */
  stored: number;
  /** Why no answer was read (status 0): the request's error, for the finding. */
  error?: string;
}

/** What a bad batch is made of: its body (or raw text), and the ids it carries. */
interface BadCase {
  name: string;
  body: unknown;
  ids: string[];
  contentType?: string;
  noKey?: boolean;
}

/**
 * Poison at ingest: batches that mix good events with one bad item, or are bad as a whole.
 * Each must be refused whole with a 4xx, and none of its events stored: a partial batch is how
 * a producer's retry double-counts. `good` makes fresh healthy items; `reused` is an event the
 * API already accepted (sending its id again with other content must be a conflict).
 */
function badCases(good: (n: number, tag: string) => Item[], reused: Item | null): BadCase[] {
  const withBad = (name: string, bad: (it: Item) => Item): BadCase => {
    const items = good(5, name);
    const first = items[0] ?? {};
    const body = { events: [...items.slice(1), bad(first)] };
    return { name, body, ids: items.map((i) => String(i.id)) };
  };
  const cases: BadCase[] = [
    withBad("negative_value", (it) => ({ ...it, value: -1 })),
    withBad("fractional_value", (it) => ({ ...it, value: 1.5 })),
    withBad("value_as_string", (it) => ({ ...it, value: "3" })),
    withBad("value_over_2^53", (it) => ({ ...it, value: 2 ** 60 })),
    withBad("id_with_spaces", (it) => ({ ...it, id: `${it.id} with spaces` })),
    withBad("id_over_100_chars", (it) => ({ ...it, id: `${it.id}-${"y".repeat(100)}` })),
    withBad("missing_customer", ({ customer: _c, ...it }) => it),
    withBad("unknown_customer", (it) => ({ ...it, customer: "chaos-nobody-at-all" })),
    withBad("unknown_meter", (it) => ({ ...it, event_name: "chaos_no_such_meter" })),
    withBad("unknown_field", (it) => ({ ...it, amount: 3 })),
    withBad("timestamp_in_ms", (it) => ({ ...it, timestamp: Date.now() })),
    withBad("timestamp_a_day_ahead", (it) => ({
      ...it,
      timestamp: new Date(Date.now() + 86_400_000).toISOString(),
    })),
    withBad("timestamp_not_a_date", (it) => ({ ...it, timestamp: "yesterday" })),
    withBad("nul_in_customer", (it) => ({ ...it, customer: "chaos-cust-0\u0000x" })),
  ];
  // One id twice in the batch, with other content the second time.
  const twice = good(5, "same_id");
  const first = twice[0] ?? {};
  cases.push({
    name: "same_id_twice_other_content",
    body: { events: [...twice, { ...first, value: Number(first.value) + 1 }] },
    ids: twice.map((i) => String(i.id)),
  });
  const over = good(1_001, "over_1000");
  cases.push({ name: "1001_events", body: { events: over }, ids: over.map((i) => String(i.id)) });
  const malformed = good(3, "malformed");
  cases.push({
    name: "malformed_json",
    body: `${JSON.stringify({ events: malformed }).slice(0, -3)}`,
    ids: malformed.map((i) => String(i.id)),
  });
  const text = good(3, "text_plain");
  cases.push({
    name: "text_plain_body",
    body: JSON.stringify({ events: text }),
    contentType: "text/plain",
    ids: text.map((i) => String(i.id)),
  });
  const huge = good(3, "over_1mib");
  cases.push({
    name: "body_over_1mib",
    body: { events: [...huge, { ...huge[0], id: "chaos-huge", customer: "c".repeat(1_100_000) }] },
    ids: huge.map((i) => String(i.id)),
  });
  const anonymous = good(3, "no_key");
  cases.push({
    name: "no_api_key",
    body: { events: anonymous },
    ids: anonymous.map((i) => String(i.id)),
    noKey: true,
  });
  if (reused) {
    const items = good(4, "reused_id");
    cases.push({
      name: "id_reused_with_other_content",
      body: { events: [...items, { ...reused, value: Number(reused.value) + 1 }] },
      ids: items.map((i) => String(i.id)),
    });
  }
  return cases;
}

/**
 * Posts every bad batch and checks, from the database, that none of its events was stored.
 * `template` supplies a healthy customer and meter; `reused` an event already accepted.
 */
export async function sendBadBatches(
  db: Db,
  api: string,
  key: string,
  template: PlannedEvent,
  reused: PlannedEvent | null,
): Promise<BadBatch[]> {
  const good = (n: number, tag: string): Item[] =>
    Array.from({ length: n }, (_, i) => ({
      ...item(template),
      id: `chaos-badbatch-${tag}-${i}`,
      value: (i % 9) + 1,
    }));
  const results: BadBatch[] = [];
  for (const c of badCases(good, reused ? item(reused) : null)) {
    const answer = await callApi(api, "POST", "/v1/events", {
      key: c.noKey ? null : key,
      body: c.body,
      ...(c.contentType ? { contentType: c.contentType } : {}),
    }).catch((err: unknown) => ({ status: 0, body: null, error: describeError(err) }));
    const [found] = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from usage_events
          where id in (select jsonb_array_elements_text(${JSON.stringify(c.ids)}::jsonb))`,
    );
    results.push({
      name: c.name,
      status: answer.status,
      stored: found?.n ?? 0,
      ...("error" in answer ? { error: answer.error } : {}),
    });
  }
  return results;
}

/** Bad batches that were not refused whole (a non-4xx answer, or events stored). Pure. */
export function acceptedPoison(batches: readonly BadBatch[]): Finding[] {
  return batches.flatMap((b) => {
    const refused = b.status >= 400 && b.status < 500;
    if (refused && b.stored === 0) return [];
    return [
      {
        subject: b.name,
        detail: `answered ${b.status}${b.error ? ` (${b.error})` : ""}${b.stored > 0 ? ` and ${b.stored} of its events were stored` : ""}`,
      },
    ];
  });
}

/** A fetch failure with its cause (fetch's own message is only "fetch failed"). */
function describeError(err: unknown): string {
  const e = coerceError(err);
  return e.cause === undefined ? e.message : `${e.message}: ${coerceError(e.cause).message}`;
}
