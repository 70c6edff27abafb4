/**
 * The JSON document of `npm run bench -- --json`: one tree of figures, keyed by dotted paths
 * (`e2e.postgres.meter_events.events_per_s`), every figure a number — or null when it was not
 * measured (JSON has no NaN), with a `skipped` string beside it saying why. Pure.
 */

/** A value of the document. */
export type Figure = number | string | boolean | null | Array<number | string> | Figures;
/** A subtree of the document. */
export interface Figures {
  [key: string]: Figure;
}

/** A number for the document: NaN and infinities become null. */
export function figure(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** Sets `value` at a dotted `path` of `doc`, creating the subtrees on the way. */
export function put(doc: Figures, path: string, value: Figure): void {
  const keys = path.split(".");
  const last = keys.pop();
  if (last === undefined) return;
  let node = doc;
  for (const key of keys) {
    const next = node[key];
    if (typeof next === "object" && next !== null && !Array.isArray(next)) node = next;
    else {
      const made: Figures = {};
      node[key] = made;
      node = made;
    }
  }
  node[last] = typeof value === "number" ? figure(value) : value;
}

/** Reads the value at a dotted path; undefined when any key on the way is missing. */
export function at(doc: Figures, path: string): Figure | undefined {
  let node: Figure | undefined = doc;
  for (const key of path.split(".")) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** The keys the issue names (issue 8): a run of every table on both engines has each one. */
export const REQUIRED_KEYS = [
  "e2e.postgres.meter_events.events_per_s",
  "e2e.postgres.meter_events.cpu_ms_per_event",
  "e2e.postgres.meter_events.throttled",
  "e2e.postgres.meter_stream.events_per_s",
  "e2e.postgres.usage_records.events_per_s",
  "ingest.postgres.batch_1000.events_per_s",
  "ingest.pglite.batch_1000.events_per_s",
  "ingest.postgres.single_500rps.p95_ms",
  "ingest.postgres.single_500rps.p99_ms",
  "backlog.peak_rss_mb",
  "backlog.ratio_1m_to_10k",
] as const;
