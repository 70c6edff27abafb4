import type { Db } from "../db/connect.ts";
import { type SqlClient, sqlClient } from "../db/sql-client.ts";
import {
  compareWithStored,
  conflictError,
  referenceError,
  type StoredContent,
} from "./event-checks.ts";
import type { EventInput } from "./event-input.ts";
import {
  byId,
  INSERT_EVENTS_NAME,
  INSERT_EVENTS_SQL,
  INSERT_NEW_EVENTS_NAME,
  INSERT_NEW_EVENTS_SQL,
  INSERT_ONE_EVENT_NAME,
  INSERT_ONE_EVENT_SQL,
  type InsertEventsRow,
  insertEventsParams,
  insertOneEventParams,
  isConflictAbort,
  isTakenId,
  REFUSED_ONE_EVENT_NAME,
  REFUSED_ONE_EVENT_SQL,
} from "./insert-events-sql.ts";

/** What a stored batch came to: newly stored events and no-op repeats. */
export interface StoreResult {
  /** Events stored by this request. */
  accepted: number;
  /** Events already stored with identical content (or repeated within the batch): no-ops. */
  duplicates: number;
}

/**
 * Stores a validated batch all-or-nothing with one statement (insert-events-sql.ts): 422 when a
 * customer or meter is unknown (or the customer deleted), 409 when an id is already stored with
 * other content, nothing stored in either case. Returns only after the statement committed, so
 * "accepted" means committed (durable on Postgres; see the README for PGlite).
 * A batch of new ids is stored by a plain insert (INSERT_NEW_EVENTS_SQL; INSERT_ONE_EVENT_SQL for
 * one event); one with an id already stored (a producer's retry) fails that insert and takes the
 * statement that judges it: two round trips, and Postgres logs the first one's unique violation.
 * One event that its customer or meter refuses takes a second read too, of why (insertOne).
 */
export async function storeEvents(
  db: Db,
  events: readonly EventInput[],
  options: { batch: boolean },
): Promise<StoreResult> {
  const client = sqlClient(db);
  // The batch statements' parameters, built once for both of them (and never for one new event).
  let params: unknown[] | undefined;
  const arrays = () => {
    params ??= insertEventsParams([...events].sort(byId));
    return params;
  };
  // Twice at most: see insertOne.
  for (let attempt = 1; ; attempt++) {
    const row =
      (await insertNew(client, events, arrays)) ?? (await insertJudged(client, events, arrays()));
    if (row === undefined) throw new Error("the ingest statement returned no row");
    if (row.refs_ok) return { accepted: row.written, duplicates: events.length - row.written };
    const problem = referenceError(
      events,
      {
        customers: new Map(row.customers ?? []),
        meters: new Set(row.meters ?? []),
      },
      options.batch,
    );
    if (problem !== null) throw problem;
    // One event's refusal is read after its insert: a customer or meter made in between shows
    // no problem, and the insert goes again. (The batch statements read both in one statement.)
    if (attempt === 2) throw new Error("the ingest statement refused a batch with no problem");
  }
}

/** The plain insert of a batch of new ids; undefined when an id of it is taken (nothing stored). */
async function insertNew(
  client: SqlClient,
  events: readonly EventInput[],
  arrays: () => unknown[],
): Promise<InsertEventsRow | undefined> {
  const [one] = events;
  try {
    if (events.length === 1 && one !== undefined) return await insertOne(client, one);
    const [row] = await client.query<InsertEventsRow>(
      INSERT_NEW_EVENTS_NAME,
      INSERT_NEW_EVENTS_SQL,
      arrays(),
    );
    return row;
  } catch (err) {
    if (isTakenId(err)) return undefined;
    throw err;
  }
}

/** What INSERT_ONE_EVENT_SQL's one row means: stored, nothing refused. */
const STORED_ONE: InsertEventsRow = { refs_ok: true, written: 1, customers: null, meters: null };

/**
 * One new event: stored, or the row that says why its customer or meter refused it, read by a
 * second statement (REFUSED_ONE_EVENT_SQL) only then. A customer or meter made between the two
 * reads as no problem (storeEvents tries again).
 */
async function insertOne(client: SqlClient, e: EventInput): Promise<InsertEventsRow | undefined> {
  const stored = await client.query(
    INSERT_ONE_EVENT_NAME,
    INSERT_ONE_EVENT_SQL,
    insertOneEventParams(e),
  );
  if (stored.length > 0) return STORED_ONE;
  const [refused] = await client.query<InsertEventsRow>(
    REFUSED_ONE_EVENT_NAME,
    REFUSED_ONE_EVENT_SQL,
    [e.customer, e.eventName],
  );
  return refused;
}

/** The statement that judges taken ids (duplicates, conflicts): 409 on a conflict. */
async function insertJudged(
  client: SqlClient,
  events: readonly EventInput[],
  params: unknown[],
): Promise<InsertEventsRow | undefined> {
  try {
    const [row] = await client.query<InsertEventsRow>(
      INSERT_EVENTS_NAME,
      INSERT_EVENTS_SQL,
      params,
    );
    return row;
  } catch (err) {
    if (!isConflictAbort(err)) throw err;
    // The rare path: the statement rolled itself back. Name the reused ids for the 409.
    throw conflictError(await conflictingIds(client, events));
  }
}

const STORED_CONTENT_NAME = "meterline_stored_content";
const STORED_CONTENT_SQL = `
select id, customer_key as "customerKey", event_name as "eventName", value::float8 as value,
       occurred_at as "occurredAt"
from usage_events where id = any($1::text[])`;

/**
 * The ids of the batch stored with other content. The statement aborted, so every stored id of
 * the batch was stored before it; stored events never change their content, so what was a
 * conflict then is one now.
 */
async function conflictingIds(client: SqlClient, events: readonly EventInput[]): Promise<string[]> {
  const stored = await client.query<StoredContent>(STORED_CONTENT_NAME, STORED_CONTENT_SQL, [
    events.map((e) => e.id),
  ]);
  // PGlite hands timestamps back as Date already; pg too (timestamptz), but be exact about it.
  const rows = stored.map((r) => ({ ...r, occurredAt: new Date(r.occurredAt) }));
  const storedIds = new Set(rows.map((r) => r.id));
  return compareWithStored(
    events.filter((e) => storedIds.has(e.id)),
    rows,
  ).conflicts;
}
