import { and, eq, lte, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { dateFromEpochMs, epochMs } from "../db/epoch-ms.ts";
import { preparedRows } from "../db/prepared.ts";
import { usageEvents } from "../db/schema/usage-events.ts";

/**
 * Open claims at which an event is a suspect: it was held by two workers (or one, twice) that
 * died before an outcome. Suspects are sent one at a time (reporter/suspects.ts), so a poison
 * event that kills its worker takes no batch-mates with it. A worker killed once (deploy, OOM)
 * leaves 1 open claim: its events are rescued by ordinary batch claims, at full speed.
 */
export const SUSPECT_OPEN_CLAIMS = 2;

/** One leased event, as the worker needs it: what to send and what the settle guard checks. */
export interface ClaimedEvent {
  id: string;
  customerKey: string;
  eventName: string;
  value: number;
  occurredAt: Date;
  receivedAt: Date;
  /** Counted attempts when claimed: the settle guard requires it unchanged. */
  attempts: number;
  /** Claims ever, including this one: the settle guard requires it unchanged too. */
  claims: number;
  /** Claims since the last outcome, including this one: the earlier ones ended with their worker gone. */
  openClaims: number;
  /** When the event's first request left (or was about to): the dedup window counts from it. */
  firstSentAt: Date | null;
  /** Usage records: the Idempotency-Key generation to send under. */
  keyGeneration: number;
  firstAmbiguousAt: Date | null;
  /** Why it was waiting, if it was: a pre-flight that finds the same reason adds no audit row. */
  waitReason: string | null;
}

/** A claimed batch, and the database's clock at the claim (null when nothing was due). */
export interface Claim {
  events: ClaimedEvent[];
  dbNow: Date | null;
}

/** Who claims, for how long, and how many. */
export interface ClaimOptions {
  owner: string;
  leaseMs: number;
  limit: number;
  /**
   * Claim suspects (events whose last claims ended with their worker gone) instead of healthy
   * events. Healthy claims never take a suspect: batched with others, a poison event that kills
   * its worker would count the claims of its batch-mates up to crash_loop too.
   */
  suspects?: boolean;
  /**
   * Look for expired leases first (default true). The rescue reads every leased row, so a
   * worker claiming many times a second asks it only now and then (reporter/claimer.ts): a
   * lease expires after seconds, and a rescue found a poll later is as good.
   */
  rescue?: boolean;
}

/**
 * Leases up to `limit` due events to `owner`: rescues first, then the queue, each in ONE
 * statement, so that no transaction is ever held open while the worker talks to Stripe: the
 * lease itself is the lock from here on.
 */
export async function claim(
  db: Db,
  { owner, leaseMs, limit, suspects = false, rescue = true }: ClaimOptions,
): Promise<Claim> {
  // Rescues first: events whose worker stopped renewing their lease (SIGKILL, partition) go
  // ahead of the backlog. Ordered by due time alone, a rescued retry (due later than a large
  // backlog inserted before it) would wait behind the whole queue, not lease + poll.
  const rescued = rescue ? await claimRescues(db, owner, leaseMs, limit, suspects) : [];
  const rest =
    rescued.length < limit
      ? await claimDue(db, owner, leaseMs, limit - rescued.length, suspects)
      : [];
  const rows = [...rescued, ...rest];
  // UPDATE … RETURNING has no order; keep the queue's order (rescues first) for the send queue.
  const rescuedIds = new Set(rescued.map((r) => r.id));
  rows.sort(
    (a, b) =>
      Number(rescuedIds.has(b.id)) - Number(rescuedIds.has(a.id)) ||
      a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime(),
  );
  const first = rows[0];
  return {
    dbNow: first ? new Date(first.dbNowMs) : null,
    events: rows.map(({ dbNowMs: _n, nextAttemptAt: _a, ...event }) => event),
  };
}

/** A claimed row as both claiming statements return it. */
type ClaimedRow = ClaimedEvent & { nextAttemptAt: Date; dbNowMs: number };

/**
 * The rescue statement: pending events whose lease expired unsettled (their worker was killed,
 * crashed, froze or lost the database), found by reading usage_events_leased_idx whole: only
 * leased rows are in it (at most workers × held events, whatever the backlog), and it is keyed
 * by (customer, meter), not by expiry, so that no index names lease_expires_at and a heartbeat
 * renewing a lease stays a HOT update. Each rescue also writes a `worker_lost`
 * attempt row in the dead worker's name, so `trace` shows the claim that ended with no outcome
 * and not only the resend. Due time is not required: the lease, not the schedule, held them.
 */
async function claimRescues(
  db: Db,
  owner: string,
  leaseMs: number,
  limit: number,
  suspects: boolean,
): Promise<ClaimedRow[]> {
  const found = await preparedRows<Record<string, unknown> & ClaimedRow>(
    db,
    suspects ? "meterline_claim_rescues_suspects" : "meterline_claim_rescues",
    sql`
    with lost as (
      select e.id, e.lease_owner, e.lease_expires_at
        from usage_events e
       where e.status = 'pending'
         and e.next_attempt_at <= now()
         -- lease_owner and lease_expires_at are set and cleared together; the owner test is what
         -- lets the planner use the leased rows' partial index.
         and e.lease_owner is not null and e.lease_expires_at < now()
         and ${suspectTest(sql`e`, suspects)}
       -- (Only the leased rows are in the set, so sorting it costs little; one batch's leases
       -- expire together.)
       order by e.next_attempt_at
       limit ${limit}::int
       -- Concurrent workers skip each other's rows and never rescue the same one twice.
       for update skip locked
    ),
    claimed as (
      update usage_events e set
        lease_owner = ${owner},
        lease_expires_at = now() + ${leaseMs}::float8 * interval '1 millisecond',
        claims = e.claims + 1,
        open_claims = e.open_claims + 1
      from lost
      where e.id = lost.id
      returning e.*, lost.lease_owner as lost_owner, lost.lease_expires_at as lost_at
    ),
    logged as (
      insert into usage_event_attempts (event_id, attempt, worker, outcome, message, started_at)
      select c.id, c.attempts, coalesce(c.lost_owner, 'unknown'), 'worker_lost',
        'claimed by ' || coalesce(c.lost_owner, 'unknown') || ', whose lease expired at ' ||
        to_char(c.lost_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') ||
        ' with no outcome written: the worker stopped renewing it (killed, crashed, frozen or ' ||
        'cut off from the database). Rescued by ' || ${owner} || '; the same identifier makes ' ||
        'its resend safe.',
        c.lost_at
      from claimed c
    )
    select ${claimedColumns}
    from claimed e`,
  );
  return normalise(found);
}

/** The queue's claiming statement: unleased due events, oldest due first (usage_events_due_idx). */
async function claimDue(db: Db, owner: string, leaseMs: number, limit: number, suspects: boolean) {
  const found = await preparedRows<Record<string, unknown> & ClaimedRow>(
    db,
    suspects ? "meterline_claim_due_suspects" : "meterline_claim_due",
    claimDueStatement(owner, leaseMs, limit, suspects),
  );
  return normalise(found);
}

/** claimDue's one statement (exported so that a test can read its plan). */
export function claimDueStatement(
  owner: string,
  leaseMs: number,
  limit: number,
  suspects: boolean,
): SQL {
  return sql`
    -- Picked once, in a CTE of its own: as "where e.id in (select … limit n for update skip
    -- locked)" the planner may rescan the subquery for each candidate row, and a rescan skips
    -- the rows this very statement has already updated (to its lock they are taken), so its
    -- LIMIT moves on to the next ones: more than n claimed, the extra held by a caller that
    -- asked for n and never sends them (seen on PGlite: a halted worker's one-event probe
    -- claim took two, and the second sat leased, renewed by the heartbeat, never sent).
    with picked as materialized (
      select d.id from usage_events d
       -- Only pending events are work; reported, failed and discarded are never claimed again.
       -- (Literals, not parameters, wherever a partial index's predicate must be proven: a
       -- prepared statement's generic plan knows no parameter's value.)
       where d.status = 'pending'
         -- Due by the DATABASE's clock, so workers on hosts with skewed clocks agree.
         and d.next_attempt_at <= now()
         -- Unleased only: settles and releases clear the lease, and an expired one is a
         -- rescue's (claimRescues), which also records the claim that ended with its worker
         -- gone. Tested on lease_owner (cleared with lease_expires_at), the predicate of
         -- usage_events_due_idx: the index holds no leased row, so this claim's new versions
         -- add no entry to it.
         and d.lease_owner is null
         -- Stripe allows one v1 meter event or usage record in flight per (customer, meter):
         -- leave a pair another live worker holds to that worker (usage_events_leased_idx). Two
         -- claims racing in the same instant can still both take one pair; the cost is a 429
         -- (throttled, uncounted). The v2 stream has no such rule: its meters' events skip the
         -- test (a hashed list of a handful of meters, read once), which read every leased row,
         -- in flight or dead since the last vacuum, on each stream claim.
         and (d.event_name in (select m.event_name from meters m
                where m.delivery_mode = 'meter_stream')
              or not exists (select 1 from usage_events o
              where o.status = 'pending' and o.lease_owner is not null
                and o.customer_key = d.customer_key
                and o.event_name = d.event_name
                and o.lease_owner <> ${owner} and o.lease_expires_at > now()))
         -- Suspects apart (see ClaimOptions.suspects and SUSPECT_OPEN_CLAIMS).
         and ${suspectTest(sql`d`, suspects)}
       -- Oldest due first within each kind: a waiting or retried event goes behind what is due
       -- before it, so a poison event delays the others by at most one claim cycle.
       order by d.next_attempt_at
       limit ${limit}::int
       -- Concurrent workers skip each other's rows instead of queueing on them, and never take
       -- the same row: the row lock lasts until this statement's implicit transaction ends.
       for update skip locked
    )
    update usage_events e set
      lease_owner = ${owner},
      lease_expires_at = now() + ${leaseMs}::float8 * interval '1 millisecond',
      -- Counts claims: an event claimed again and again without an outcome crashes its worker.
      claims = e.claims + 1,
      open_claims = e.open_claims + 1
    from picked
    where e.id = picked.id
    returning ${claimedColumns}`;
}

/** Whether an event is (or is not) a suspect, with the threshold as a literal (see claimDue). */
function suspectTest(alias: SQL, suspects: boolean): SQL {
  const threshold = sql.raw(String(SUSPECT_OPEN_CLAIMS));
  return suspects
    ? sql`${alias}.open_claims >= ${threshold}`
    : sql`${alias}.open_claims < ${threshold}`;
}

/**
 * What both claiming statements return of each claimed row (usage_events as e). Times as epoch
 * ms (db/epoch-ms.ts): a stream claim returns five of them for each of hundreds of rows.
 */
const claimedColumns = sql`e.id, e.customer_key as "customerKey", e.event_name as "eventName",
      e.value::float8 as value, ${epochMs(sql`e.occurred_at`)} as "occurredAt",
      ${epochMs(sql`e.received_at`)} as "receivedAt",
      e.attempts, e.claims, e.open_claims as "openClaims",
      ${epochMs(sql`e.first_sent_at`)} as "firstSentAt",
      e.key_generation as "keyGeneration",
      ${epochMs(sql`e.first_ambiguous_at`)} as "firstAmbiguousAt",
      e.wait_reason as "waitReason", ${epochMs(sql`e.next_attempt_at`)} as "nextAttemptAt",
      -- The database's clock, in ms: the worker judges time by it, like the lease does.
      ${epochMs(sql`now()`)} as "dbNowMs"`;

/** Times arrive as epoch ms, and the drivers may differ on numerics: normalise. */
function normalise(found: (Record<string, unknown> & ClaimedRow)[]): ClaimedRow[] {
  return found.map((r) => ({
    ...r,
    value: Number(r.value),
    dbNowMs: Number(r.dbNowMs),
    occurredAt: new Date(Number(r.occurredAt)),
    receivedAt: new Date(Number(r.receivedAt)),
    nextAttemptAt: new Date(Number(r.nextAttemptAt)),
    firstSentAt: dateFromEpochMs(r.firstSentAt),
    firstAmbiguousAt: dateFromEpochMs(r.firstAmbiguousAt),
  }));
}

/**
 * Whether a suspect is waiting to be claimed: cheap (usage_events_suspect_idx holds only the
 * suspects), so a busy worker can ask once per poll and make room to send it alone, instead of
 * waiting to run dry, which under a backlog never happens.
 */
export async function suspectDue(db: Db): Promise<boolean> {
  const found = await db
    .select({ id: usageEvents.id })
    .from(usageEvents)
    .where(
      and(
        eq(usageEvents.status, "pending"),
        sql`${usageEvents.openClaims} >= ${SUSPECT_OPEN_CLAIMS}`,
        lte(usageEvents.nextAttemptAt, sql`now()`),
        sql`(${usageEvents.leaseExpiresAt} is null or ${usageEvents.leaseExpiresAt} < now())`,
      ),
    )
    .limit(1);
  return found.length > 0;
}
