import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { preparedRows } from "../db/prepared.ts";
import type { EventStatus } from "../db/schema/usage-events.ts";
import { asyncRejectionMessage } from "./async-reject.ts";
import { batchSize, stillPending } from "./by-id-guards.ts";
import { addToCount } from "./event-counts.ts";
import { leaseCleared } from "./lease-sql.ts";
import type { WaitReason } from "./reasons.ts";

/** The last error an event shows (last_error_* columns). */
export interface RecordedError {
  code: string;
  message: string;
  httpStatus: number | null;
  requestId: string | null;
}

/** The row written to usage_event_attempts for this attempt or pre-flight decision. */
export interface AttemptRecord {
  outcome: string;
  httpStatus: number | null;
  stripeCode: string | null;
  requestId: string | null;
  message: string | null;
  startedAt: Date;
}

/** One event's settlement, as the outbox writes it. */
export interface SettleRow {
  id: string;
  /** Guard: counted attempts as claimed. A newer outcome has changed it. */
  attempts: number;
  /** Guard: claims as claimed. A later claim (even by the same owner) has changed it. */
  claims: number;
  status: Exclude<EventStatus, "discarded">;
  /** attempts + 1 when true. */
  counted: boolean;
  /** key_generation + 1 when true: the next send goes under a new Idempotency-Key. */
  newKey?: boolean;
  /** Pending only: the next claim may take it this long from now (database clock). */
  delayMs: number;
  /** Pending only: why it waits (reasons.ts). */
  waitReason: WaitReason | null;
  /** New last error, or null to keep the previous one (a wait or a delivery is no error). */
  error: RecordedError | null;
  /** Request id of the delivering call. */
  stripeRequestId: string | null;
  firstAmbiguousAt: Date | null;
  /** When the Stripe call started; null when no call was made (pre-flight). */
  sentAt: Date | null;
  /** The audit row; null writes none (a wait rechecked for the same reason tells nothing new). */
  attempt: AttemptRecord | null;
}

/**
 * Writes a batch of settlements in ONE statement and returns the ids it settled. A row is
 * settled only while this worker still holds the lease from the same claim, so a worker that
 * lost its lease cannot overwrite a newer outcome. Every attempt that reached Stripe gets its
 * attempt row even then (as lease_lost): the audit trail records every call made.
 *
 * Asynchronous rejections win: a row that would be `reported` for an identifier Stripe has
 * rejected after its 200 (async_rejections, written by billing sync) is written `failed` with
 * Stripe's code instead. A resend's "already exists" answer means Stripe has the identifier, not
 * that it counted the event.
 *
 * Systemic rejections are held back: a row that would be `failed` with a Stripe rejection whose
 * systemic circuit is open (another worker judged it so) is written pending behind the circuit.
 */
export async function settle(db: Db, owner: string, batch: SettleRow[]): Promise<Set<string>> {
  if (batch.length === 0) return new Set();
  const settled = await preparedRows<{ id: string }>(
    db,
    "meterline_settle",
    settleStatement(owner, batch),
  );
  return new Set(settled.map((r) => r.id));
}

/** settle's one statement (exported so that a test can read its plan). */
export function settleStatement(owner: string, batch: SettleRow[]): SQL {
  const { rows, groups } = settleInput(batch);
  return sql`
    with g as (${settleGroups(groups)}),
    v as (
      ${settleRows(rows)}
      -- Limited to its length: the planner then knows how few rows the batch holds
      -- (by-id-guards.ts, batchSize).
      limit ${batchSize(batch.length)}
    ),
    -- One audit row for each request whose delivered events share it (usage_event_requests),
    -- its id drawn here so that each event can name it. From the attempts' sequence: an
    -- event's rows of both tables sort in the order they were written (attempt-history.ts).
    req as materialized (
      select g.n, nextval('usage_event_attempts_id_seq') as id from g where g.shares
    ),
    settled as (
      update usage_events as e set
        status = case when rej.identifier is not null then 'failed'
          when sys.scope is not null then 'pending' else v.status end,
        attempts = e.attempts + (case when v.counted and sys.scope is null then 1 else 0 end),
        -- A stored 5xx proven unapplied: the resend needs a key Stripe has no answer under.
        key_generation = e.key_generation + (case when v.new_key then 1 else 0 end),
        -- An outcome: the open claims (the crash-loop measure) start again from 0.
        open_claims = 0,
        -- The outcome is written: the lease has done its job.
        ${leaseCleared},
        -- The database's clock again, so hosts with skewed clocks agree on when it is due.
        next_attempt_at = case when v.status = 'pending'
          then now() + v.delay_ms * interval '1 millisecond'
          when sys.scope is not null then now() else e.next_attempt_at end,
        wait_reason = case when v.status = 'pending' then v.wait_reason
          when sys.scope is not null then 'systemic_halt' end,
        first_attempt_at = coalesce(e.first_attempt_at, v.sent_at),
        last_attempt_at = coalesce(v.sent_at, e.last_attempt_at),
        -- Once set, never moved: the dedup window counts from the FIRST ambiguous attempt.
        first_ambiguous_at = coalesce(e.first_ambiguous_at, v.first_ambiguous_at),
        last_error_code = case when rej.identifier is not null then rej.code
          when v.has_error then v.error_code else e.last_error_code end,
        last_error_message = case when rej.identifier is not null then ${asyncRejectionMessage}
          when v.has_error then v.error_message else e.last_error_message end,
        last_http_status = case when rej.identifier is not null then null
          when v.has_error then v.error_http_status else e.last_http_status end,
        last_request_id = case when v.has_error then v.error_request_id else e.last_request_id end,
        stripe_request_id = coalesce(v.stripe_request_id, e.stripe_request_id),
        reported_at = case when v.status = 'reported' and rej.identifier is null then now()
          else e.reported_at end,
        failed_at = case when (v.status = 'failed' and sys.scope is null)
          or rej.identifier is not null then now() else e.failed_at end,
        delivered_by = coalesce(req.id, e.delivered_by)
      from v
        -- Only a delivery can be overruled: a rejection does not change a retry or a wait, and
        -- a pending event of a rejected identifier fails at its next delivery answer.
        left join async_rejections rej on rej.identifier = v.id and v.status = 'reported'
        -- A rejection another worker has judged systemic (its circuit is open) is not this
        -- event's fault: pending behind the circuit, uncharged. Without this, a dead letter
        -- judged poison here and written after that worker took back the window's dead
        -- letters (revert-systemic.ts) would stay failed.
        left join reporter_circuits sys on v.status = 'failed' and v.error_http_status is not null
          and sys.scope = 'systemic:' || v.error_code
        -- The request's row records only a delivery that stands: an overruled one gets an
        -- attempt row of its own.
        left join req on req.n = v.g and rej.identifier is null
      where e.id = v.id
        -- Only a live event: a person may have discarded or resolved it meanwhile.
        and ${stillPending}
        -- The guard: still ours, from the same claim, and no newer attempt was counted.
        and e.lease_owner = ${owner}
        and e.attempts = v.attempts
        and e.claims = v.claims
      returning e.id, e.attempts, e.status, rej.identifier is not null as overruled,
        rej.code as rej_code, sys.scope is not null as held_back,
        req.id as request
    ),
    -- Every settled row was pending (the guard): the new reported ones are the change.
    counted as (${addToCount(
      "reported",
      sql`select count(*) as n from settled where status = 'reported'`,
      1,
      "hot",
    )}),
    logged as (
      insert into usage_event_attempts
        (event_id, attempt, worker, outcome, http_status, stripe_code, request_id, message, started_at)
      select v.id, coalesce(s.attempts, v.attempts), ${owner},
        case when s.id is null then 'lease_lost' when s.overruled then 'async_rejected'
          when s.held_back then 'systemic_reverted' else v.outcome end,
        v.a_http_status, coalesce(s.rej_code, v.a_stripe_code), v.a_request_id,
        case when s.id is null
          then 'lease lost before settling; the answer was ' || v.outcome || ': ' || coalesce(v.a_message, '')
          when s.overruled
          then 'Stripe answered ' || v.outcome || ', but had already rejected this identifier ' ||
            'asynchronously (' || s.rej_code || '): it is not billed, so it is failed'
          when s.held_back
          then 'rejected with ' || v.error_code || ' while that rejection is judged systemic ' ||
            '(its circuit is open): not this event; pending behind the circuit, uncharged'
          else v.a_message end,
        v.started_at
      from v left join settled s on s.id = v.id
      -- A pre-flight decision that lost its lease changed nothing and called no one: no row.
      -- A delivery its request's row records has none of its own.
      where v.has_attempt and (s.id is not null or v.sent_at is not null) and s.request is null
    ),
    shared as (
      insert into usage_event_requests
        (id, worker, outcome, http_status, stripe_code, request_id, message, started_at, events)
      select req.id, ${owner}, g.outcome, g.a_http_status, g.a_stripe_code, g.a_request_id,
        g.a_message, g.started_at, c.n
      from (select request, count(*)::int as n from settled
             where request is not null group by request) c
        join req on req.id = c.request
        join g on g.n = req.n
    )
    select id from settled`;
}

/** The batch as settleStatement reads it, as a query of its own (for reading it back). */
export function settleBatchRows(batch: readonly SettleRow[]): SQL {
  const { rows, groups } = settleInput(batch);
  return sql`with g as (${settleGroups(groups)}) ${settleRows(rows)}`;
}

/**
 * The batch's groups as rows of a FROM: what rows share (the events of one request, delivered
 * together), once per group, every SettleRow field under its column name; `shares` when the
 * group's attempt is one delivery of several events (one usage_event_requests row).
 */
export function settleGroups(groups: string): SQL {
  return sql`select * from jsonb_to_recordset(${groups}::jsonb) as g(
      n int, status text, counted boolean, new_key boolean, delay_ms float8,
      wait_reason text, has_error boolean, error_code text, error_message text,
      error_http_status int, error_request_id text, stripe_request_id text,
      first_ambiguous_at timestamptz, sent_at timestamptz, has_attempt boolean, outcome text,
      a_http_status int, a_stripe_code text, a_request_id text, a_message text,
      started_at timestamptz, shares boolean)`;
}

/**
 * The batch as rows of a FROM, each joined to its group `g` (settleGroups, a CTE of the
 * statement). The batch travels as two jsonb parameters: what rows share travels once, as a
 * group; each row names its event and its group, so Postgres parses four keys per event, not a
 * dozen with two timestamps. (One-element arrays per group instead made the generic plan take
 * the batch for ten times its rows, and read the outbox instead of its key.)
 */
export function settleRows(rows: string): SQL {
  return sql`select r.id, r.attempts, r.claims, r.g, g.status, g.counted, g.new_key,
      g.delay_ms, g.wait_reason, g.has_error, g.error_code, g.error_message,
      g.error_http_status, g.error_request_id, g.stripe_request_id, g.first_ambiguous_at,
      g.sent_at, g.has_attempt, g.outcome, g.a_http_status, g.a_stripe_code, g.a_request_id,
      g.a_message, g.started_at
    from jsonb_to_recordset(${rows}::jsonb) as r(id text, attempts int, claims int, g int)
      join g on g.n = r.g`;
}

/**
 * The batch as settleStatement reads it: each row's event and group, and the groups: what rows
 * share but their event, each once, numbered in the batch's order of first appearance. A stream
 * request's events, delivered together, are one group; rows that differ (an error's message, a
 * first ambiguous time) have a group each. A group of two or more deliveries `shares` its
 * attempt: one request row for all. (Its attempt record carries the request's id and start, so
 * two requests fall into one group only where every field of their rows would read the same.)
 */
function settleInput(batch: readonly SettleRow[]): { rows: string; groups: string } {
  const numbers = new Map<string, number>();
  const groups: string[] = [];
  const sizes: number[] = [];
  const delivered: boolean[] = [];
  const rows: string[] = [];
  let previous: SettleRow | undefined;
  let n = -1;
  for (const r of batch) {
    // A request's events are settled side by side: most rows share the previous row's group,
    // found without building its JSON.
    if (previous === undefined || !sameShared(previous, r)) {
      const shared = JSON.stringify(sharedJson(r));
      const known = numbers.get(shared);
      if (known === undefined) {
        n = groups.length;
        numbers.set(shared, n);
        groups.push(`{"n":${n},${shared.slice(1)}`);
        sizes.push(0);
        delivered.push(r.status === "reported" && r.attempt?.outcome === "delivered");
      } else n = known;
    }
    previous = r;
    sizes[n] = (sizes[n] ?? 0) + 1;
    rows.push(
      `{"id":${JSON.stringify(r.id)},"attempts":${r.attempts},"claims":${r.claims},"g":${n}}`,
    );
  }
  const json = groups.map((text, i) =>
    delivered[i] === true && (sizes[i] ?? 0) > 1 ? `${text.slice(0, -1)},"shares":true}` : text,
  );
  return { rows: `[${rows.join(",")}]`, groups: `[${json.join(",")}]` };
}

/** True when sharedJson gives a and b the same JSON: every field it reads is equal. */
function sameShared(a: SettleRow, b: SettleRow): boolean {
  return (
    a.status === b.status &&
    a.delayMs === b.delayMs &&
    a.counted === b.counted &&
    (a.newKey === true) === (b.newKey === true) &&
    a.waitReason === b.waitReason &&
    sameError(a.error, b.error) &&
    a.stripeRequestId === b.stripeRequestId &&
    sameTime(a.firstAmbiguousAt, b.firstAmbiguousAt) &&
    sameTime(a.sentAt, b.sentAt) &&
    sameAttempt(a.attempt, b.attempt)
  );
}

function sameError(a: RecordedError | null, b: RecordedError | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.code === b.code &&
    a.message === b.message &&
    a.httpStatus === b.httpStatus &&
    a.requestId === b.requestId
  );
}

function sameAttempt(a: AttemptRecord | null, b: AttemptRecord | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.outcome === b.outcome &&
    a.httpStatus === b.httpStatus &&
    a.stripeCode === b.stripeCode &&
    a.requestId === b.requestId &&
    a.message === b.message &&
    a.startedAt.getTime() === b.startedAt.getTime()
  );
}

function sameTime(a: Date | null, b: Date | null): boolean {
  if (a === null || b === null) return a === b;
  return a.getTime() === b.getTime();
}

/**
 * What one settle row shares with the other rows of its group, as the statement's
 * jsonb_to_recordset reads it. A key left out reads as null,
 * and the booleans are only tested in CASE and WHERE, where null counts as false; so only what
 * is set is written: a delivery has most fields empty, and a stream settle of 200 events was
 * ~146 KB of JSON for the worker to build and send and for Postgres to parse.
 */
function sharedJson(r: SettleRow): Record<string, unknown> {
  const o: Record<string, unknown> = { status: r.status, delay_ms: r.delayMs };
  if (r.counted) o.counted = true;
  if (r.newKey === true) o.new_key = true;
  if (r.waitReason !== null) o.wait_reason = r.waitReason;
  if (r.error !== null) {
    o.has_error = true;
    o.error_code = r.error.code;
    o.error_message = r.error.message;
    if (r.error.httpStatus !== null) o.error_http_status = r.error.httpStatus;
    if (r.error.requestId !== null) o.error_request_id = r.error.requestId;
  }
  if (r.stripeRequestId !== null) o.stripe_request_id = r.stripeRequestId;
  if (r.firstAmbiguousAt !== null) o.first_ambiguous_at = r.firstAmbiguousAt.toISOString();
  if (r.sentAt !== null) o.sent_at = r.sentAt.toISOString();
  const a = r.attempt;
  if (a !== null) {
    o.has_attempt = true;
    o.outcome = a.outcome;
    if (a.httpStatus !== null) o.a_http_status = a.httpStatus;
    if (a.stripeCode !== null) o.a_stripe_code = a.stripeCode;
    if (a.requestId !== null) o.a_request_id = a.requestId;
    if (a.message !== null) o.a_message = a.message;
    o.started_at = a.startedAt.toISOString();
  }
  return o;
}
