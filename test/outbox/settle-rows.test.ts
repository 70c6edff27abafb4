import { PgDialect } from "drizzle-orm/pg-core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { type SettleRow, settleBatchRows, settleStatement } from "../../src/outbox/settle.ts";
import { delivered } from "../reporter/fixtures.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { planOf } from "../support/plans.ts";

/** Fields from small pools, so that a batch holds rows that share all but their event. */
const at = fc.constantFrom(
  null,
  new Date("2026-12-03T10:00:00.123Z"),
  new Date("2026-12-03T10:00:01Z"),
);
const text = fc.constantFrom(null, "a", "b", 'it\'s "quoted"\n');
const status = fc.constantFrom<SettleRow["status"]>("pending", "reported", "failed");
const row: fc.Arbitrary<Omit<SettleRow, "id">> = fc.record({
  attempts: fc.nat(5),
  claims: fc.nat(5),
  status,
  counted: fc.boolean(),
  newKey: fc.constantFrom(undefined, false, true),
  delayMs: fc.constantFrom(0, 1500.5),
  waitReason: fc.constantFrom(null, "customer_unlinked"),
  error: fc.option(
    fc.record({
      code: fc.constantFrom("rate_limited", "resource_missing"),
      message: text.map((m) => m ?? ""),
      httpStatus: fc.constantFrom(null, 400, 500),
      requestId: fc.constantFrom(null, "req_1"),
    }),
  ),
  stripeRequestId: fc.constantFrom(null, "req_1", "req_2"),
  firstAmbiguousAt: at,
  sentAt: at,
  attempt: fc.option(
    fc.record({
      outcome: fc.constantFrom("delivered", "retry"),
      httpStatus: fc.constantFrom(null, 200, 500),
      stripeCode: fc.constantFrom(null, "rate_limited"),
      requestId: fc.constantFrom(null, "req_1"),
      message: text,
      startedAt: at.map((d) => d ?? new Date(0)),
    }),
  ),
});
/**
 * A batch: distinct ids, as a settle's are. Each row is the previous one with one field changed
 * (or none, or all), so that side-by-side rows differ in one field at a time, as the rows of
 * one request and the next do.
 */
const fields = [
  "attempts",
  "claims",
  "status",
  "counted",
  "newKey",
  "delayMs",
  "waitReason",
  "error",
  "stripeRequestId",
  "firstAmbiguousAt",
  "sentAt",
  "attempt",
] as const;
const change = fc.constantFrom<(typeof fields)[number] | "none" | "all">(...fields, "none", "all");
const batch = fc.array(fc.tuple(row, change), { minLength: 1, maxLength: 40 }).map((steps) => {
  const out: SettleRow[] = [];
  for (const [r, k] of steps) {
    const prev = out.at(-1);
    const next =
      prev === undefined || k === "all" ? r : k === "none" ? prev : { ...prev, [k]: r[k] };
    out.push({ ...next, id: `evt_${out.length}` });
  }
  return out;
});

/** What the statement must read for a row: every field, under its column's name. */
function expected(r: SettleRow): Record<string, unknown> {
  const e = r.error;
  const a = r.attempt;
  return {
    id: r.id,
    attempts: r.attempts,
    claims: r.claims,
    status: r.status,
    counted: r.counted,
    new_key: r.newKey === true,
    delay_ms: r.delayMs,
    wait_reason: r.waitReason,
    has_error: e !== null,
    error_code: e?.code ?? null,
    error_message: e?.message ?? null,
    error_http_status: e?.httpStatus ?? null,
    error_request_id: e?.requestId ?? null,
    stripe_request_id: r.stripeRequestId,
    first_ambiguous_at: r.firstAmbiguousAt?.getTime() ?? null,
    sent_at: r.sentAt?.getTime() ?? null,
    has_attempt: a !== null,
    outcome: a?.outcome ?? null,
    a_http_status: a?.httpStatus ?? null,
    a_stripe_code: a?.stripeCode ?? null,
    a_request_id: a?.requestId ?? null,
    a_message: a?.message ?? null,
    started_at: a?.startedAt.getTime() ?? null,
  };
}

/** A row as read back: absent booleans are null (the statement tests them where null is false). */
function read(r: Record<string, unknown>): Record<string, unknown> {
  const time = (v: unknown) => (v === null ? null : new Date(v as string).getTime());
  // `g` is the row's group number: how it travelled, not one of its fields.
  const { g: _group, ...fields } = r;
  return {
    ...fields,
    counted: r.counted === true,
    new_key: r.new_key === true,
    has_error: r.has_error === true,
    has_attempt: r.has_attempt === true,
    delay_ms: Number(r.delay_ms),
    first_ambiguous_at: time(r.first_ambiguous_at),
    sent_at: time(r.sent_at),
    started_at: time(r.started_at),
  };
}

/** A plan node of EXPLAIN (FORMAT JSON). */
interface PlanNode {
  "Node Type": string;
  Plans?: PlanNode[];
}

/**
 * The node that joins the batch's rows to their groups: one input reads the rows'
 * jsonb_to_recordset, the other the groups' CTE `g`.
 */
function groupJoin(node: PlanNode): PlanNode | undefined {
  const inputs = (node.Plans ?? []).map((p) => JSON.stringify(p));
  const rows = (p: string) => p.includes('"Alias":"r"');
  const groups = (p: string) => p.includes('"CTE Name":"g"');
  // One input reads only the rows, the other only the groups: the join of the two.
  const rowsRead = inputs.some((p) => rows(p) && !groups(p));
  const groupsRead = inputs.some((p) => groups(p) && !rows(p));
  if (rowsRead && groupsRead) return node;
  for (const child of node.Plans ?? []) {
    const found = groupJoin(child);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * settle's rows travel grouped (what rows share, once per group): whatever the batch, Postgres
 * must read back every row with its own fields, none lost, none doubled, none given another
 * row's group.
 */
describe.each(backends)("settle's rows on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(() => database.close());

  it("reads back every row of any batch with its own fields", async () => {
    await fc.assert(
      fc.asyncProperty(batch, async (b) => {
        const got = await rows<Record<string, unknown>>(database.db, settleBatchRows(b));
        const byId = new Map(got.map((g) => [g.id as string, read(g)]));
        expect(got).toHaveLength(b.length);
        for (const r of b) expect(byId.get(r.id)).toEqual(expected(r));
      }),
      { numRuns: 60 },
    );
  });

  it("sends what a request's events share once", async () => {
    const sentAt = new Date("2026-12-03T10:00:00Z");
    const delivery = (id: string): SettleRow => {
      const d = delivered({ id, attempts: 0, claims: 1 });
      return { ...d, sentAt, attempt: d.attempt && { ...d.attempt, startedAt: sentAt } };
    };
    const query = settleBatchRows(["a", "b", "c"].map(delivery));
    const { params } = new PgDialect().sqlToQuery(query);
    const groups = JSON.parse(params[0] as string) as unknown[];
    expect(groups).toHaveLength(1);
    expect(await rows(database.db, query)).toHaveLength(3);
  });

  // A batch whose every row is a group of its own (each a different error) must not compare
  // every row with every group: 500 × 500 in a nested loop. Joined by hash, it is one pass over
  // each.
  const distinct = Array.from({ length: 500 }, (_, i): SettleRow => {
    const d = delivered({ id: `evt_${i}`, attempts: 0, claims: 1 });
    return {
      ...d,
      status: "pending",
      error: { code: "rate_limited", message: `m${i}`, httpStatus: 429, requestId: null },
    };
  });
  it.each(["custom", "generic"] as const)(
    "joins rows to their groups by hash, not row by row (%s plan)",
    async (mode) => {
      const text = await planOf(database, settleStatement("w1", distinct), mode);
      const [row] = JSON.parse(text) as { "QUERY PLAN": { Plan: PlanNode }[] }[];
      const join = row && groupJoin(row["QUERY PLAN"][0]?.Plan as PlanNode);
      expect(join?.["Node Type"]).toBe("Hash Join");
    },
  );
});
