import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { dateFromEpochMs, epochMs } from "../db/epoch-ms.ts";
import { preparedRows } from "../db/prepared.ts";
import { rows } from "../db/rows.ts";
import { leaseEnd } from "./lease-sql.ts";
import { otherWorkerAliveSql } from "./workers.ts";

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
   * Look for expired leases first (default true). The rescue reads the events of every claim
   * whose lease time has passed, so a worker claiming many times a second asks it only now and
   * then (reporter/claimer.ts): a lease expires after seconds, and a rescue found a poll later
   * is as good.
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
  // Suspects come from rescues only: a suspect is an event whose lease expired, again.
  const rest =
    rescued.length < limit && !suspects
      ? await claimDue(db, owner, leaseMs, limit - rescued.length)
      : [];
  const found = [...rescued, ...rest];
  // UPDATE … RETURNING has no order; keep the queue's order (rescues first) for the send queue.
  const rescuedIds = new Set(rescued.map((r) => r.id));
  found.sort(
    (a, b) =>
      Number(rescuedIds.has(b.id)) - Number(rescuedIds.has(a.id)) ||
      a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime(),
  );
  const first = found[0];
  return {
    dbNow: first ? new Date(first.dbNowMs) : null,
    events: found.map(({ dbNowMs: _n, nextAttemptAt: _a, ...event }) => event),
  };
}

/** A claimed row as both claiming statements return it. */
type ClaimedRow = ClaimedEvent & { nextAttemptAt: Date; dbNowMs: number };

/**
 * The rescue statement: pending events whose lease expired unsettled (their worker was killed,
 * crashed, froze or lost the database), found through the claims whose lease time has passed
 * (usage_event_claims: one row per claim, about a lease's worth of rows), not through an index
 * of usage_events, so that a claim changes no indexed column. The event's own lease, renewed by
 * its worker's heartbeat, says whether it is lost. Each rescue is a claim of its own (a new
 * claim row) and also writes a `worker_lost` attempt row in the dead worker's name, so `trace`
 * shows the claim that ended with no outcome and not only the resend. Due time is not required:
 * the lease, not the schedule, held them.
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
    claimRescuesStatement(owner, leaseMs, limit, suspects),
  );
  return normalise(found);
}

/** claimRescues's one statement (exported so that a test can read its plan). */
export function claimRescuesStatement(
  owner: string,
  leaseMs: number,
  limit: number,
  suspects: boolean,
): SQL {
  return sql`
    with lost as materialized (
      select e.id, e.lease_owner, e.lease_expires_at
        from usage_events e
       where ${leaseLost}
         and ${suspectTest(suspects)}
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
        lease_expires_at = ${leaseEnd(leaseMs)},
        pair_owner = ${pairOwner(owner, leaseMs)},
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
    ),
    ${recordClaim(owner, leaseMs)},
    -- Claim rows whose time has passed and none of whose events is still leased to their owner
    -- (settled, released, or rescued into a claim of their own) are done with. Rows still
    -- holding a worker's events stay, and are looked at again. (This statement's own rescues
    -- are not seen here: their rows go at the next rescue.)
    finished as (
      delete from usage_event_claims c
       where c.expires_at < now()
         -- A scalar subquery, not NOT EXISTS: that became an anti join, whose generic plan
         -- hashed the whole of usage_events; this one looks each claim's events up by key.
         and (select 1 from usage_events e
               where e.id = any(c.event_ids) and e.status = 'pending' and e.lease_owner = c.owner
               limit 1) is null
    )
    select ${claimedColumns}
    from claimed e`;
}

/**
 * The ids of the events of every claim whose lease time has passed, as an array: compared with
 * `id = any(...)`, the plan looks each up by key and never scans usage_events for them.
 */
const expiredClaimEvents = sql`array(
      select x.id from usage_event_claims c cross join lateral unnest(c.event_ids) as x(id)
       where c.expires_at < now())`;

/**
 * A pending, due event of usage_events e whose lease ran out unsettled: its worker stopped
 * renewing it (the rescue takes it; suspectDue asks whether a suspect is among them). Found
 * through the claim rows: whichever claim leased an event last, its row's time has passed if
 * the event's lease has.
 */
const leaseLost = sql`e.id = any(${expiredClaimEvents})
         and e.status = 'pending'
         and e.next_attempt_at <= now()
         and e.lease_owner is not null and e.lease_expires_at < now()`;

/**
 * The claim row of a claiming statement (a CTE named `recorded`, after `claimed`): one row for
 * the whole claim, where the rescue will look once the lease could have expired.
 */
function recordClaim(owner: string, leaseMs: number): SQL {
  return sql`recorded as (
      insert into usage_event_claims (owner, expires_at, event_ids)
      select ${owner}, ${leaseEnd(leaseMs)}, array_agg(id)
        from claimed
      having count(*) > 0
    )`;
}

/**
 * The meters whose events may be in flight together for one customer (the v2 stream): a hashed
 * list of a handful of meters, read once per statement.
 */
const streamMeters = sql`(select m.event_name from meters m where m.delivery_mode = 'meter_stream')`;

/**
 * pair_owner of a claimed event (usage_events e): the owner for the meters with a per-(customer,
 * meter) rule, while another worker is alive; otherwise null, and the claim changes no indexed
 * column (a HOT update: one WAL record, no index entry). Only another worker's claims read the
 * mark (claimDue's pair test): a worker keeps its own pairs to one request at a time in its send
 * queue, so a worker alone has no one to tell. The stream's meters have no such rule.
 *
 * A worker that starts while another runs alone does not see the pairs the other claimed before
 * it came (their leases carry no mark), until those are settled: a claim cycle, about a second at
 * v1's rate. If both send one pair in that time, Stripe answers one of them 429, which is retried
 * and not counted as an attempt, as for two claims racing in the same instant (claimDue). The
 * second worker is alive from the moment its row is written, at its start
 * (reporter/worker-registry.ts): from then on the first worker's claims mark their pairs again.
 */
function pairOwner(owner: string, leaseMs: number): SQL {
  return sql`case when e.event_name in ${streamMeters} then null
                  when ${otherWorkerAliveSql(owner, leaseMs)} then ${owner} end`;
}

/** The queue's claiming statement: unleased due events, oldest due first (usage_events_due_idx). */
async function claimDue(db: Db, owner: string, leaseMs: number, limit: number) {
  const found = await preparedRows<Record<string, unknown> & ClaimedRow>(
    db,
    "meterline_claim_due",
    claimDueStatement(owner, leaseMs, limit),
  );
  return normalise(found);
}

/** claimDue's one statement (exported so that a test can read its plan). */
export function claimDueStatement(owner: string, leaseMs: number, limit: number): SQL {
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
         -- Unleased only. pair_owner, the due index's predicate, is set only by a claim (and
         -- cleared with the lease); lease_owner is tested on the row: the due index keeps
         -- leased stream events, and those of a worker alone (pairOwner), as no index names the
         -- lease, so leasing one stays a HOT update; a claim skips the few in flight at its
         -- head. An expired lease is a rescue's (claimRescues), which also records the claim
         -- that ended with its worker gone.
         and d.pair_owner is null
         and d.lease_owner is null
         -- Stripe allows one v1 meter event or usage record in flight per (customer, meter):
         -- leave a pair another live worker holds to that worker (usage_events_leased_idx, which
         -- holds those meters' events leased while another worker was alive: pairOwner). Two
         -- claims racing in the same instant can still both take one pair; the cost is a 429
         -- (throttled, uncounted). The v2 stream has no such rule: its meters' events skip the
         -- test.
         and (d.event_name in ${streamMeters}
              or not exists (select 1 from usage_events o
              where o.status = 'pending' and o.pair_owner is not null
                and o.customer_key = d.customer_key
                and o.event_name = d.event_name
                and o.pair_owner <> ${owner} and o.lease_expires_at > now()))
         -- Suspects are not tested here: a suspect is leased (its lease expired again), and
         -- only rescues take leased events. An unleased event with open claims left over (a
         -- person's retry of one cancelled while leased) is an ordinary event again.
       -- Oldest due first within each kind: a waiting or retried event goes behind what is due
       -- before it, so a poison event delays the others by at most one claim cycle.
       order by d.next_attempt_at
       limit ${limit}::int
       -- Concurrent workers skip each other's rows instead of queueing on them, and never take
       -- the same row: the row lock lasts until this statement's implicit transaction ends.
       for update skip locked
    ),
    claimed as (
      -- For a stream event no column set here is indexed: a HOT update (one WAL record, no
      -- index entry; test/outbox/write-shape.test.ts).
      update usage_events e set
        lease_owner = ${owner},
        lease_expires_at = ${leaseEnd(leaseMs)},
        pair_owner = ${pairOwner(owner, leaseMs)},
        -- Counts claims: an event claimed again and again without an outcome crashes its worker.
        claims = e.claims + 1,
        open_claims = e.open_claims + 1
      -- The picked ids as an array, not a join with picked: each is then looked up by key. As a
      -- join, on an outbox of tens of thousands of rows, hashing picked and reading the whole
      -- table looked cheaper than 400 probes of the key, and PGlite's generic plan did so at
      -- every claim (test/outbox/plans-after-growth.test.ts).
      where e.id = any(array(select id from picked))
      returning ${claimedColumns}
    ),
    ${recordClaim(owner, leaseMs)}
    select * from claimed`;
}

/** Whether an event of usage_events e is (or is not) a suspect (SUSPECT_OPEN_CLAIMS). */
function suspectTest(suspects: boolean): SQL {
  const threshold = sql.raw(String(SUSPECT_OPEN_CLAIMS));
  return suspects ? sql`e.open_claims >= ${threshold}` : sql`e.open_claims < ${threshold}`;
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
 * Whether a suspect is waiting to be claimed: cheap (it reads only the events of claims whose
 * lease time has passed, about a poll's worth), so a busy worker can ask once per poll and make
 * room to send it alone, instead of waiting to run dry, which under a backlog never happens.
 *
 * Planned at every run, not prepared: with no parameter, a prepared statement has one plan,
 * made at its first run and kept until the outbox is next analyzed. A worker's first run is at
 * its start, often on an empty outbox, and the plan for an empty table is to read it whole: the
 * bench's v2 stream then read all 100,000 rows at each poll (20-100 ms) on the connections
 * that had run it first while the outbox was empty. Planned per run (a fraction of a
 * millisecond, once per poll), it sees the table's size now.
 */
export async function suspectDue(db: Db): Promise<boolean> {
  const found = await rows(db, suspectDueStatement);
  return found.length > 0;
}

/** suspectDue's statement (exported so that a test can read its plan). */
export const suspectDueStatement = sql`
    select 1 as found
      from usage_events e
     where ${leaseLost}
       and ${suspectTest(true)}
     limit 1`;
