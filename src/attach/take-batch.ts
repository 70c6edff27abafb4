import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { toText } from "../db/sql-client.ts";
import { compareWithStored, type StoredContent } from "../ingest/event-checks.ts";
import { type EventInput, type EventLimits, parseEvents } from "../ingest/event-input.ts";
import { storeEvents } from "../ingest/store-events.ts";
import { ErrorCode, ItemErrorCode } from "../lib/error-codes.ts";
import {
  type AttachSpec,
  type Checkpoint,
  rowToEvent,
  type SourceRow,
  selectRowsSql,
} from "./source-rows.ts";

/** What reads the producer's table: a pg client or pool (its own connection, its own snapshot). */
export interface SourceReader {
  query(text: string, values: unknown[]): Promise<{ rows: SourceRow[] }>;
}

/** A source row attach did not take, and why. */
export interface Refusal {
  rowId: string;
  code: string;
  message: string;
}

/** What one batch came to. */
export interface BatchResult {
  /** Rows read after the checkpoint (0: the table had nothing new). */
  read: number;
  /** Events newly stored (a row stored before counts as a duplicate, not here). */
  stored: number;
  refused: Refusal[];
}

/**
 * Takes the rows after the checkpoint, up to `batch`, in ONE transaction of Meterline's database:
 * the checkpoint row is locked (FOR UPDATE: two processes with one name take turns, never the
 * same rows), the rows' events are stored through ingest's own rules and statement, the rows it
 * cannot take are recorded with their id and reason, and the checkpoint moves past the last row
 * read. Commit or nothing: a process killed anywhere in it leaves the table as it was, and the
 * next run reads the same rows again. `db` must be one connection (BEGIN and COMMIT are its own).
 */
export async function takeBatch(
  db: Db,
  source: SourceReader,
  spec: AttachSpec,
  options: { batch: number; owner: string; limits: EventLimits; now?: Date },
): Promise<BatchResult> {
  await db.execute(sql`begin`);
  try {
    await db.execute(
      sql`insert into attach_checkpoints (name, owner) values (${spec.name}, ${options.owner})
          on conflict (name) do nothing`,
    );
    const [cp] = await rows<{ follow: string | null; id: string | null }>(
      db,
      sql`select last_follow as follow, last_id as id from attach_checkpoints
          where name = ${spec.name} for update`,
    );
    const after: Checkpoint | null =
      cp?.follow != null && cp.id != null ? { follow: cp.follow, id: cp.id } : null;
    const text = selectRowsSql(spec, after !== null);
    const read = (
      await source.query(text, after ? [after.follow, after.id, options.batch] : [options.batch])
    ).rows;
    const last = read.at(-1);
    if (last === undefined) {
      await db.execute(sql`rollback`);
      return { read: 0, stored: 0, refused: [] };
    }
    const { events, refused } = await judgeRows(db, spec, read, options);
    const stored = await storeNew(db, events, refused);
    for (const r of refused) {
      await db.execute(
        sql`insert into attach_refusals (name, row_id, code, message)
            values (${spec.name}, ${r.rowId}, ${r.code}, ${r.message})
            on conflict (name, row_id) do nothing`,
      );
    }
    await db.execute(
      sql`update attach_checkpoints
          set last_follow = ${last.follow}, last_id = ${last.id}, owner = ${options.owner},
              updated_at = now()
          where name = ${spec.name}`,
    );
    await db.execute(sql`commit`);
    return { read: read.length, stored, refused };
  } catch (err) {
    await db.execute(sql`rollback`).catch(() => {});
    throw err;
  }
}

/** An event and the source row it came from. */
interface RowEvent {
  rowId: string;
  event: EventInput;
}

/**
 * Each row judged alone, so one bad row refuses only itself: ingest's field rules, then whether
 * its customer is active and its event name has a meter (read in this transaction).
 */
async function judgeRows(
  db: Db,
  spec: AttachSpec,
  read: readonly SourceRow[],
  options: { limits: EventLimits; now?: Date },
): Promise<{ events: RowEvent[]; refused: Refusal[] }> {
  const now = options.now ?? new Date();
  const refused: Refusal[] = [];
  const parsed: RowEvent[] = [];
  const seen = new Set<string>();
  for (const row of read) {
    if (row.id === null) {
      // Nothing names such a row: it is left out, and the checkpoint still moves past it.
      refused.push({
        rowId: `(null at ${row.follow})`,
        code: ItemErrorCode.required,
        message: `${spec.idColumn} is null`,
      });
      continue;
    }
    const result = parseEvents(rowToEvent(spec, row), now, options.limits);
    if (!result.ok) {
      const first = result.error.details.errors?.[0];
      refused.push({
        rowId: row.id,
        code: first?.code ?? result.error.code,
        message: first?.message ?? result.error.message,
      });
      continue;
    }
    const event = result.events[0] as EventInput;
    if (seen.has(event.id)) {
      refused.push({
        rowId: row.id,
        code: ItemErrorCode.conflicting_id,
        message: `${spec.idColumn} ${row.id} repeats an earlier row's`,
      });
      continue;
    }
    seen.add(event.id);
    parsed.push({ rowId: row.id, event });
  }
  const customers = new Map(
    (
      await rows<{ key: string; status: string }>(
        db,
        sql`select key, status from customers
            where key = any(${toText([...new Set(parsed.map((p) => p.event.customer))])}::text[])`,
      )
    ).map((c) => [c.key, c.status]),
  );
  const meters = new Set(
    (
      await rows<{ event_name: string }>(
        db,
        sql`select event_name from meters
            where event_name = any(${toText([...new Set(parsed.map((p) => p.event.eventName))])}::text[])`,
      )
    ).map((m) => m.event_name),
  );
  const events: RowEvent[] = [];
  for (const p of parsed) {
    const status = customers.get(p.event.customer);
    const problem =
      status === undefined
        ? {
            code: ItemErrorCode.unknown_customer,
            message: `customer "${p.event.customer}" does not exist`,
          }
        : status !== "active"
          ? {
              code: ItemErrorCode.customer_deleted,
              message: `customer "${p.event.customer}" was deleted`,
            }
          : !meters.has(p.event.eventName)
            ? {
                code: ItemErrorCode.unknown_event_name,
                message: `event_name "${p.event.eventName}" has no meter`,
              }
            : null;
    if (problem === null) events.push(p);
    else refused.push({ rowId: p.rowId, ...problem });
  }
  // Reported in the table's order, whichever check refused them.
  const position = new Map(read.map((row, i) => [row.id, i]));
  refused.sort((a, b) => (position.get(a.rowId) ?? -1) - (position.get(b.rowId) ?? -1));
  return { events, refused };
}

/**
 * Stores the events with ingest's statement. Rows whose event is already stored (read again
 * after the checkpoint was reset, or taken under this name before) are skipped as duplicates,
 * and one stored with other content (the row changed since) is refused: ingest's statement
 * would abort the whole transaction on either. The checkpoint's lock keeps any other attach of
 * this name from storing the same ids meanwhile.
 */
async function storeNew(db: Db, events: RowEvent[], refused: Refusal[]): Promise<number> {
  if (events.length === 0) return 0;
  const stored = await rows<StoredContent & Record<string, unknown>>(
    db,
    sql`select id, customer_key as "customerKey", event_name as "eventName",
               value::float8 as value, occurred_at as "occurredAt"
        from usage_events where id = any(${toText(events.map((e) => e.event.id))}::text[])`,
  );
  const storedIds = new Set(stored.map((r) => r.id));
  const { conflicts } = compareWithStored(
    events.filter((e) => storedIds.has(e.event.id)).map((e) => e.event),
    stored.map((r) => ({ ...r, occurredAt: new Date(r.occurredAt) })),
  );
  const conflicting = new Set(conflicts);
  for (const e of events.filter((e) => conflicting.has(e.event.id))) {
    refused.push({
      rowId: e.rowId,
      code: ErrorCode.conflicting_event,
      message: `event ${e.event.id} is already stored with other content`,
    });
  }
  const fresh = events.filter((e) => !storedIds.has(e.event.id)).map((e) => e.event);
  if (fresh.length === 0) return 0;
  return (await storeEvents(db, fresh, { batch: true })).accepted;
}
