import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, readSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import type { MeterlineClient } from "../cli/api-client.ts";
import { parseEvents } from "../ingest/event-input.ts";
import { parseCsvLine } from "./csv.ts";
import { type Mapping, type Row, rowToEvent } from "./mapping.ts";

/** What `meterline import` was asked to do. */
export interface ImportOptions {
  file: string;
  format: "ndjson" | "csv";
  mapping: Mapping;
  /** Validate every line (and look up customers and meters); store nothing. */
  dryRun: boolean;
  /** Events per request, up to the server's 1,000. */
  batchSize: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Ids of lines without one: `${idPrefix}-${line}`; default from the file's first bytes. */
  idPrefix?: string;
  /** Called now and then with bytes read of the file's size, and lines read. */
  onProgress?: (bytes: number, lines: number, stored: number) => void;
}

/** One line that was not imported, and why. */
export interface LineError {
  line: number;
  field: string;
  code: string;
  message: string;
}

/** What an import did. */
export interface ImportReport {
  lines: number;
  /** Events sent (or, in a dry run, that would be). */
  events: number;
  /** Stored now, and already stored before (a re-run, or a repeat in the file). */
  accepted: number;
  duplicates: number;
  /** Lines refused, in all, and the first of them. */
  refused: number;
  errors: LineError[];
  /** Dry run: customers and meters the events name that Meterline would refuse. */
  unknown: Array<{
    kind: "customer" | "meter";
    name: string;
    why: "does not exist" | "is deleted";
    firstLine: number;
    events: number;
  }>;
  seconds: number;
}

/** Errors shown at most: the count is always whole. */
const MAX_ERRORS = 1000;
/** Retries of one request on 429, 5xx or a network error before the import stops (resumable). */
const MAX_TRIES = 8;

/** The import stopped before the end; re-running the same command resumes it. */
export class ImportStopped extends Error {
  override readonly name = "ImportStopped";
}

/** Default id prefix: the file's first 64 KiB, hashed, so a re-run of one file makes one set of ids. */
export function filePrefix(file: string): string {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(65_536);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return `imp-${createHash("sha256").update(buf.subarray(0, n)).digest("hex").slice(0, 12)}`;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the file line by line, validates each batch with the server's own rules (so errors name
 * lines before anything is sent), and sends the valid events in batches, several in flight. A
 * line the server refuses (unknown customer, an id stored with other content) is reported by line
 * and its batch's other events are sent again; 429, 5xx and network errors are retried; anything
 * else stops the import, and running it again resumes it (ids make every event idempotent).
 */
export async function runImport(api: MeterlineClient, o: ImportOptions): Promise<ImportReport> {
  const started = Date.now();
  const size = statSync(o.file).size;
  const idPrefix = o.idPrefix ?? filePrefix(o.file);
  const report: ImportReport = {
    lines: 0,
    events: 0,
    accepted: 0,
    duplicates: 0,
    refused: 0,
    errors: [],
    unknown: [],
    seconds: 0,
  };
  const refuse = (e: LineError) => {
    report.refused++;
    if (report.errors.length < MAX_ERRORS) report.errors.push(e);
  };
  const names = { customer: new Map<string, NameUse>(), meter: new Map<string, NameUse>() };

  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  const send = (batch: Pending[]) => {
    const p = sendBatch(api, batch, report, refuse)
      .catch((err) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  let pending: Pending[] = [];
  const flushPending = async () => {
    const valid = validate(pending, refuse);
    pending = [];
    report.events += valid.length;
    if (valid.length === 0) return;
    if (o.dryRun) {
      for (const v of valid) {
        use(names.customer, String(v.event.customer), v.line);
        use(names.meter, String(v.event.event_name), v.line);
      }
      return;
    }
    send(valid);
    if (inFlight.size >= o.concurrency) await Promise.race(inFlight);
    if (failure !== null) throw failure;
  };

  const stream = createReadStream(o.file);
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let header: string[] | null = null;
  let lineNo = 0;
  for await (const text of lines) {
    lineNo++;
    if (text.trim() === "") continue;
    if (o.format === "csv" && header === null) {
      header = parseCsvLine(text);
      if (header === null) throw new Error(`line 1: the CSV header has an unclosed quote`);
      continue;
    }
    report.lines++;
    const row = readRow(text, o.format, header, lineNo, refuse);
    if (row !== null) {
      pending.push({
        line: lineNo,
        event: rowToEvent(row, o.mapping, lineNo, idPrefix, o.format === "csv"),
      });
    }
    if (pending.length >= o.batchSize) await flushPending();
    if (report.lines % 10_000 === 0)
      o.onProgress?.(stream.bytesRead, report.lines, report.accepted + report.duplicates);
  }
  if (pending.length > 0) await flushPending();
  await Promise.all(inFlight);
  if (failure !== null) throw failure;
  if (o.dryRun) report.unknown = await unknownNames(api, names);
  o.onProgress?.(size, report.lines, report.accepted + report.duplicates);
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

interface Pending {
  line: number;
  event: Record<string, unknown>;
}

interface NameUse {
  firstLine: number;
  events: number;
}

function use(map: Map<string, NameUse>, name: string, line: number): void {
  const seen = map.get(name);
  if (seen) seen.events++;
  else map.set(name, { firstLine: line, events: 1 });
}

/** One line as a row, or null (refused: not JSON, not an object, a CSV quote left open). */
function readRow(
  text: string,
  format: "ndjson" | "csv",
  header: string[] | null,
  line: number,
  refuse: (e: LineError) => void,
): Row | null {
  if (format === "ndjson") {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      refuse({
        line,
        field: "line",
        code: "invalid_json",
        message: `not JSON: ${(err as Error).message}`,
      });
      return null;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      refuse({ line, field: "line", code: "invalid_json", message: "must be a JSON object" });
      return null;
    }
    return value as Row;
  }
  const cells = parseCsvLine(text);
  if (cells === null || header === null) {
    refuse({
      line,
      field: "line",
      code: "invalid_csv",
      message: "a quoted field is not closed on its line",
    });
    return null;
  }
  return Object.fromEntries(header.map((name, i) => [name, cells[i] ?? ""]));
}

/** The batch's events that pass the server's rules; the others refused by line. */
function validate(batch: Pending[], refuse: (e: LineError) => void): Pending[] {
  const parsed = parseEvents({ events: batch.map((p) => p.event) }, new Date());
  if (parsed.ok) return batch;
  const rest = withoutRefused(batch, parsed.error.details.errors ?? [], refuse);
  // Errors are described for the first hundred items only: check the rest on their own.
  return parsed.error.details.truncated ? rest.flatMap((p) => validate([p], refuse)) : rest;
}

/** The batch without the items errors name (by index), each refused by its line. */
function withoutRefused(
  batch: Pending[],
  errors: ReadonlyArray<{ index: number; field: string; code: string; message: string }>,
  refuse: (e: LineError) => void,
): Pending[] {
  const bad = new Set<number>();
  for (const e of errors) {
    const item = batch[e.index];
    if (!item || bad.has(e.index)) continue;
    bad.add(e.index);
    refuse({
      line: item.line,
      field: fieldOf(e.field),
      code: e.code,
      message: lineMessage(e.message),
    });
  }
  return batch.filter((_, i) => !bad.has(i));
}

/** "events[12].value" → "value": a line is one event. */
function fieldOf(field: string): string {
  return field.replace(/^events\[\d+\]\./, "");
}
function lineMessage(message: string): string {
  return message.replace(/^events\[\d+\]\./, "");
}

/** Sends one batch until it is stored; refused lines are reported and the rest sent again. */
async function sendBatch(
  api: MeterlineClient,
  batch: Pending[],
  report: ImportReport,
  refuse: (e: LineError) => void,
): Promise<void> {
  let rest = batch;
  for (let attempt = 1; rest.length > 0; ) {
    let answer: { status: number; body: unknown };
    try {
      answer = await api.request("POST", "/v1/events", { events: rest.map((p) => p.event) });
    } catch (err) {
      answer = { status: 0, body: { error: { message: (err as Error).message } } };
    }
    const { status } = answer;
    const body = answer.body as {
      accepted?: number;
      duplicates?: number;
      error?: {
        code?: string;
        message?: string;
        errors?: Array<{ index: number; field: string; code: string; message: string }>;
      };
    } | null;
    if (status === 202) {
      report.accepted += body?.accepted ?? 0;
      report.duplicates += body?.duplicates ?? 0;
      return;
    }
    const items = body?.error?.errors?.filter((e) => Number.isInteger(e.index)) ?? [];
    if ((status === 400 || status === 409 || status === 422) && items.length > 0) {
      rest = withoutRefused(rest, items, refuse);
      continue;
    }
    const why = `${status === 0 ? "no answer" : `HTTP ${status}`}: ${body?.error?.message ?? "no message"}`;
    if (status !== 0 && status !== 429 && status < 500) {
      throw new ImportStopped(`the API refused the import (${why})`);
    }
    if (attempt >= MAX_TRIES) throw new ImportStopped(`the API kept failing (${why})`);
    await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** attempt) * Math.random()));
    attempt++;
  }
}

/** Dry run: the customers and meters the file names that Meterline does not have. */
async function unknownNames(
  api: MeterlineClient,
  names: { customer: Map<string, NameUse>; meter: Map<string, NameUse> },
): Promise<ImportReport["unknown"]> {
  const out: ImportReport["unknown"] = [];
  const meters = await api.request<{ data?: Array<{ event_name: string }> }>("GET", "/v1/meters");
  const declared = new Set((meters.body?.data ?? []).map((m) => m.event_name));
  for (const [name, u] of names.meter) {
    if (!declared.has(name)) out.push({ kind: "meter", name, why: "does not exist", ...u });
  }
  const keys = [...names.customer.entries()];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < keys.length; i = next++) {
      const [name, u] = keys[i] ?? ["", { firstLine: 0, events: 0 }];
      const res = await api.request<{ status?: string }>(
        "GET",
        `/v1/customers/${encodeURIComponent(name)}`,
      );
      if (res.status === 404) out.push({ kind: "customer", name, why: "does not exist", ...u });
      else if (res.body?.status === "deleted") {
        out.push({ kind: "customer", name, why: "is deleted", ...u });
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return out.sort((a, b) => a.firstLine - b.firstLine);
}
