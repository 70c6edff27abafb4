/** The fields of an event, as POST /v1/events names them. */
export const EVENT_FIELDS = ["id", "customer", "event_name", "value", "timestamp"] as const;
export type EventField = (typeof EVENT_FIELDS)[number];

/** Where each field of an event comes from in a row: a column (or NDJSON key), or a constant. */
export type Mapping = Record<EventField, { column: string } | { constant: string } | null>;

/** A row as read: an NDJSON object, or a CSV record with the header's names. */
export type Row = Record<string, unknown>;

/**
 * The mapping from the flags: `--map field=column,…` renames, `--event-name NAME` sets a
 * constant. Unnamed fields come from the column of their own name. Pure; throws a message that
 * names the flag.
 */
export function buildMapping(map: string | undefined, eventName: string | undefined): Mapping {
  const mapping: Mapping = {
    id: { column: "id" },
    customer: { column: "customer" },
    event_name: { column: "event_name" },
    value: { column: "value" },
    timestamp: { column: "timestamp" },
  };
  for (const pair of (map ?? "").split(",").filter((p) => p.trim() !== "")) {
    const eq = pair.indexOf("=");
    const field = pair.slice(0, eq).trim();
    const column = pair.slice(eq + 1).trim();
    if (eq < 1 || column === "") {
      throw new Error(`--map: "${pair}" must be field=column (e.g. customer=account_id)`);
    }
    if (!(EVENT_FIELDS as readonly string[]).includes(field)) {
      throw new Error(`--map: "${field}" is not an event field (${EVENT_FIELDS.join(", ")})`);
    }
    mapping[field as EventField] = { column };
  }
  if (eventName !== undefined) mapping.event_name = { constant: eventName };
  return mapping;
}

/**
 * The event body of one row, for the server's own validation to judge: values are passed as
 * they are, except that a CSV cell (always text) that reads as a whole number becomes a number
 * for `value` and `timestamp`, and an empty cell means absent. An absent id becomes
 * `${idPrefix}-${line}`: a re-run of the same file makes the same ids, so it stores nothing
 * twice. Pure.
 */
export function rowToEvent(
  row: Row,
  mapping: Mapping,
  line: number,
  idPrefix: string,
  fromText: boolean,
): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const field of EVENT_FIELDS) {
    const source = mapping[field];
    if (source === null) continue;
    let value = "constant" in source ? source.constant : row[source.column];
    if (fromText && (value === "" || value === undefined)) continue;
    if (value === undefined) continue;
    if (fromText && (field === "value" || field === "timestamp") && /^\d+$/.test(String(value))) {
      value = Number(value);
    }
    event[field] = value;
  }
  if (event.id === undefined) event.id = `${idPrefix}-${line}`;
  return event;
}
