/**
 * Table: the outbox's own cost per event, statement by statement, without Stripe, HTTP or the
 * worker's pipeline around it. The reporter's statements (outbox/claim.ts, mark-sent.ts,
 * settle.ts) run in the bench process in the order a worker runs them, over one pooled
 * connection, so that Postgres CPU is that one backend's (/proc) and can be split by statement
 * kind. Two shapes of batch, as the two kinds of worker make them: the v2 stream (claims of 400
 * four deep, marks per 100-event request, settles of 200) and one-event requests (claims of
 * 100, marks and settles of 20 events, what v1's 20 ms lingers gather at 1,000 requests/s).
 * Postgres only: what it shows is the server's work per event (CPU, WAL), the floor under the
 * end-to-end tables' "pg (worker)" column.
 */
import { readFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { type Db, openDatabase } from "../src/db/connect.ts";
import { rows } from "../src/db/rows.ts";
import { type ClaimedEvent, claim } from "../src/outbox/claim.ts";
import { markSent } from "../src/outbox/mark-sent.ts";
import { settle } from "../src/outbox/settle.ts";
import { rowFromSettlement } from "../src/reporter/settle-rows.ts";
import type { BenchOptions } from "./options.ts";
import { type Figures, put } from "./report.ts";
import { selfCpuMs } from "./support/cpu.ts";
import { createTarget, openTarget } from "./support/database.ts";
import { say } from "./support/progress.ts";
import { EVENT_NAME, insertBacklog, seedForIngest } from "./support/seed.ts";
import { cpuCell, num, rate, type Table } from "./table.ts";

/** A worker's batch shape: how many it claims, how deep, and how it marks and settles them. */
interface Shape {
  name: "stream" | "one_event";
  label: string;
  /** The meter's delivery mode: a stream claim leases differently (outbox/claim.ts). */
  mode: "meter_stream" | "meter_events";
  claim: number;
  depth: number;
  mark: number;
  settle: number;
}

const SHAPES: Shape[] = [
  {
    name: "stream",
    label: "v2 stream",
    mode: "meter_stream",
    claim: 400,
    depth: 4,
    mark: 100,
    settle: 200,
  },
  {
    name: "one_event",
    label: "one-event requests",
    mode: "meter_events",
    claim: 100,
    depth: 1,
    mark: 20,
    settle: 20,
  },
];

const KINDS = ["claim", "mark", "settle"] as const;
type Kind = (typeof KINDS)[number];

/** What one shape measured. */
interface Measured {
  events: number;
  wallMs: number;
  /** Postgres CPU (the one backend), ms, by statement kind. */
  pgMs: Record<Kind, number>;
  statements: Record<Kind, number>;
  /** The bench process's CPU over the whole cycle (building statements, parsing rows), ms. */
  nodeMs: number;
  walRecords: number;
  walBytes: number;
}

/** Runs the outbox table (Postgres only). */
export async function runOutbox(
  options: BenchOptions,
  footer: () => string[],
): Promise<{ tables: Table[]; figures: Figures }> {
  const figures: Figures = {};
  const table: Table = {
    title: "Outbox statements: Postgres's work per event (no Stripe, no HTTP)",
    columns: [
      "batches",
      "events",
      "events/s",
      "claim: statements",
      "mark: statements",
      "settle: statements",
      "CPU pg claim µs/ev",
      "CPU pg mark µs/ev",
      "CPU pg settle µs/ev",
      "CPU pg total µs/ev",
      "CPU bench process µs/ev",
      "WAL records/ev",
      "WAL bytes/ev",
    ],
    rows: [],
    notes: [
      "Method: the reporter's own functions (outbox/claim.ts claim, mark-sent.ts markSent, settle.ts settle with rows from reporter/settle-rows.ts, every event delivered) run in the bench process over ONE pooled connection, in a worker's order: claim (kept `depth` claims in flight), mark each request's events before it would leave, settle. Postgres CPU is that backend's time on CPU (/proc/<pid>/schedstat, in ns) read around each statement, so it splits by kind; the bench process's CPU is the driver's and the statements' building (less its own reads of schedstat). WAL from pg_stat_wal: server-wide, so anything else writing meanwhile counts too.",
      `Batch shapes: v2 stream = claims of 400, 4 in flight, a mark per 100-event request, settles of 200; one-event requests = claims of 100, marks and settles of 20 events (what v1's 20 ms lingers gather at 1,000 requests/s). ${num(options.outboxEvents)} pending events per shape (200 customers, one meter: v2 stream's in meter_stream mode, the other's in meter_events) inserted with generate_series and VACUUM ANALYZEd first.`,
      ...footer(),
    ],
  };
  for (const shape of SHAPES) {
    say(`outbox: ${shape.label}, ${num(options.outboxEvents)} events`);
    const m = await measure(options, shape);
    const us = (msTotal: number) => (msTotal * 1000) / m.events;
    const pgTotal = KINDS.reduce((s, k) => s + m.pgMs[k], 0);
    table.rows.push([
      shape.label,
      num(m.events),
      num(rate(m.events, m.wallMs)),
      num(m.statements.claim),
      num(m.statements.mark),
      num(m.statements.settle),
      cpuCell(us(m.pgMs.claim)),
      cpuCell(us(m.pgMs.mark)),
      cpuCell(us(m.pgMs.settle)),
      cpuCell(us(pgTotal)),
      cpuCell(us(m.nodeMs)),
      num(m.walRecords / m.events, 1),
      num(m.walBytes / m.events),
    ]);
    const key = `postgres.${shape.name}`;
    for (const k of KINDS) put(figures, `${key}.pg_cpu_us_per_event.${k}`, us(m.pgMs[k]));
    put(figures, `${key}.pg_cpu_us_per_event.total`, us(pgTotal));
    put(figures, `${key}.bench_cpu_us_per_event`, us(m.nodeMs));
    put(figures, `${key}.wal_records_per_event`, m.walRecords / m.events);
    put(figures, `${key}.wal_bytes_per_event`, m.walBytes / m.events);
    put(figures, `${key}.events_per_s`, rate(m.events, m.wallMs));
  }
  return { tables: [table], figures };
}

/** One shape on a database of its own. */
async function measure(options: BenchOptions, shape: Shape): Promise<Measured> {
  const target = await createTarget("postgres", options.databaseUrl);
  try {
    const setup = await openTarget(target);
    try {
      await seedForIngest(setup.db, options.customers);
      await setup.db.execute(sql`update meters set delivery_mode = ${shape.mode}`);
      await insertBacklog(setup.db, {
        prefix: "ob",
        n: options.outboxEvents,
        customerCount: options.customers,
      });
      await setup.db.execute(sql`vacuum analyze usage_events`);
    } finally {
      await setup.close();
    }
    if (target.url === null) throw new Error("the outbox table needs Postgres");
    const database = await openDatabase({ url: target.url, poolSize: 1 });
    try {
      return await cycle(database.db, shape);
    } finally {
      await database.close();
    }
  } finally {
    await target.drop();
  }
}

/** Claims, marks and settles every pending event, timing each statement's backend CPU. */
async function cycle(db: Db, shape: Shape): Promise<Measured> {
  const [me] = await rows<{ pid: number }>(db, sql`select pg_backend_pid() as pid`);
  const pid = me?.pid ?? 0;
  // schedstat's first field is the time on CPU in ns: exact for a statement of a millisecond,
  // where /proc/<pid>/stat counts 10 ms ticks.
  // Reading it costs this process ~20 µs a time: that is counted and taken off its own CPU.
  let readingMs = 0;
  const backendMs = () => {
    const at = performance.now();
    const ns = Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
    readingMs += performance.now() - at;
    return ns / 1e6;
  };
  const pgMs: Record<Kind, number> = { claim: 0, mark: 0, settle: 0 };
  const statements: Record<Kind, number> = { claim: 0, mark: 0, settle: 0 };
  const timed = async <T>(kind: Kind, run: () => Promise<T>): Promise<T> => {
    const before = backendMs();
    const result = await run();
    pgMs[kind] += backendMs() - before;
    statements[kind] += 1;
    return result;
  };
  const wal = async () => {
    const [w] = await rows<{ records: string; bytes: string }>(
      db,
      sql`select wal_records::text as records, wal_bytes::text as bytes from pg_stat_wal`,
    );
    return { records: Number(w?.records ?? 0), bytes: Number(w?.bytes ?? 0) };
  };
  const owner = `bench-outbox-${shape.name}`;
  const walBefore = await wal();
  const nodeBefore = selfCpuMs();
  const started = performance.now();
  const inFlight: ClaimedEvent[][] = [];
  let events = 0;
  for (;;) {
    const claimed = await timed("claim", () =>
      claim(db, { owner, leaseMs: 600_000, limit: shape.claim }),
    );
    if (claimed.events.length > 0) inFlight.push(claimed.events);
    // Keep `depth` claims in flight, as the stream's worker does: claimed rows wait leased.
    if (claimed.events.length > 0 && inFlight.length < shape.depth) continue;
    const batch = inFlight.shift();
    if (batch === undefined) break;
    for (let i = 0; i < batch.length; i += shape.mark) {
      const part = batch.slice(i, i + shape.mark);
      await timed("mark", () =>
        markSent(
          db,
          owner,
          part.map((e) => ({ id: e.id, claims: e.claims })),
        ),
      );
    }
    const sentAt = new Date();
    for (let i = 0; i < batch.length; i += shape.settle) {
      const part = batch.slice(i, i + shape.settle);
      const settled = await timed("settle", () =>
        settle(
          db,
          owner,
          part.map((e) =>
            rowFromSettlement(
              e,
              {
                status: "reported",
                counted: true,
                attemptOutcome: "delivered",
                firstAmbiguousAt: null,
                answer: {
                  httpStatus: 200,
                  code: null,
                  type: null,
                  param: null,
                  message: "",
                  requestId: "req_benchoutbox0001",
                },
              },
              sentAt,
            ),
          ),
        ),
      );
      events += settled.size;
    }
  }
  const wallMs = performance.now() - started;
  const nodeMs = selfCpuMs() - nodeBefore - readingMs;
  const walAfter = await wal();
  const [left] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from usage_events where event_name = ${EVENT_NAME} and status <> 'reported'`,
  );
  if ((left?.n ?? 0) !== 0) throw new Error(`outbox bench: ${left?.n} events not reported`);
  return {
    events,
    wallMs,
    pgMs,
    statements,
    nodeMs,
    walRecords: walAfter.records - walBefore.records,
    walBytes: walAfter.bytes - walBefore.bytes,
  };
}
