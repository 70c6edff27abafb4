import { createHash } from "node:crypto";
import { eventIdSchema } from "../ingest/event-input.ts";

/** Which columns of the producer's table make an event, and how the table is followed. */
export interface AttachSpec {
  /** Part of every event id and the key of the checkpoint: 1 to 40 of A-Z a-z 0-9 . _ - */
  name: string;
  /** The table (or view), optionally schema-qualified: `usage_logs`, `billing.usage_logs`. */
  table: string;
  idColumn: string;
  customerColumn: string;
  /** One event name for every row, or the column that holds it. */
  eventName: { constant: string } | { column: string };
  valueColumn: string;
  /** The event's time; null: the time the row is taken. */
  timeColumn: string | null;
  /** Never decreases for new rows (a serial id, an insert time): rows are taken in its order. */
  followColumn: string;
  /** The operator's own SQL condition on the table, ANDed to the read; null: every row. */
  where: string | null;
}

/** A row as the read returns it: every mapped column under a fixed alias. */
export interface SourceRow {
  id: string | null;
  customer: unknown;
  event_name: unknown;
  value: unknown;
  time: unknown;
  follow: string;
}

/** A position in the table: the (follow, id) of the last row taken, as Postgres prints them. */
export interface Checkpoint {
  follow: string;
  id: string;
}

/** A Postgres identifier, quoted: any name the operator's table uses reads as that name only. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `schema.table` or `table`, each part quoted. A dot inside a name needs the name quoted in SQL itself, which attach does not take. */
export function quoteTable(table: string): string {
  return table.split(".").map(quoteIdent).join(".");
}

/**
 * The read of the next `$n` rows after a checkpoint ($1 follow, $2 id; none on the first read),
 * in (follow, id) order so that rows sharing a follow value are neither skipped nor repeated at
 * a batch's edge. Parameters take the columns' own types, so a bigint or timestamptz checkpoint
 * compares as one. Pure.
 */
export function selectRowsSql(spec: AttachSpec, after: boolean): string {
  // Columns are read through the alias `src`: ORDER BY would otherwise take the output's text
  // `id` and `follow` (1, 10, 100, 2…) for the table's columns of the same names.
  const col = (name: string) => `src.${quoteIdent(name)}`;
  const follow = col(spec.followColumn);
  const id = col(spec.idColumn);
  const eventName = "constant" in spec.eventName ? "null" : `${col(spec.eventName.column)}::text`;
  const time = spec.timeColumn === null ? "null" : col(spec.timeColumn);
  const conditions = [
    ...(after ? [`(${follow}, ${id}) > ($1, $2)`] : []),
    ...(spec.where === null ? [] : [`(${spec.where})`]),
  ];
  return `select ${id}::text as id, ${col(spec.customerColumn)} as customer,
  ${eventName} as event_name, ${col(spec.valueColumn)} as value, ${time} as time,
  ${follow}::text as follow
from ${quoteTable(spec.table)} as src
${conditions.length > 0 ? `where ${conditions.join("\n  and ")}` : ""}
order by ${follow}, ${id}
limit $${after ? 3 : 1}`;
}

const ID_PREFIX = "att";

/**
 * The event id of a source row: `att:<name>:<row id>`, the same on every read of the row, so a
 * row read twice is a duplicate and never a second event. A row id that does not fit the event
 * id rule (characters, length) is replaced by a hash of itself. Pure.
 */
export function eventIdFor(name: string, rowId: string): string {
  const plain = `${ID_PREFIX}:${name}:${rowId}`;
  if (eventIdSchema.safeParse(plain).success) return plain;
  const digest = createHash("sha256").update(rowId).digest("base64url").slice(0, 32);
  return `${ID_PREFIX}:${name}:h-${digest.replaceAll(/[^A-Za-z0-9]/g, "_")}`;
}

/**
 * The POST /v1/events body of one row, for ingest's own rules to judge: whole numbers the
 * driver hands over as text (bigint, numeric) become numbers, anything else is passed as it is
 * and refused by the rule it breaks; a Date becomes RFC 3339. Pure.
 */
export function rowToEvent(spec: AttachSpec, row: SourceRow): Record<string, unknown> {
  const event: Record<string, unknown> = {
    id: eventIdFor(spec.name, row.id ?? ""),
    customer: row.customer,
    event_name: "constant" in spec.eventName ? spec.eventName.constant : row.event_name,
    value: numeric(row.value),
  };
  if (row.time instanceof Date) event.timestamp = row.time.toISOString();
  else if (row.time !== null && row.time !== undefined) event.timestamp = numeric(row.time);
  return event;
}

function numeric(value: unknown): unknown {
  if (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value)) {
    const n = Number(value);
    // Past 2^53 the number would round: keep the text, and ingest's rule refuses it by name.
    if (!/^-?\d+$/.test(value) || Number.isSafeInteger(n)) return n;
  }
  return value;
}
