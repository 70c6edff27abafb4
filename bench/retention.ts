/**
 * Retention table: does removing old events slow the hot path? The v1 end-to-end run on
 * Postgres (e2e-mode.ts, unchanged) in a database that already holds N reported events older
 * than the retention horizon, with their attempt rows and a clean reconciliation over their
 * hours: once with retention off (METERLINE_RETENTION_DAYS=off), once on (the default, whose
 * worker starts a sweep as it starts), alternating, in pairs. The old rows are seeded once into
 * a template database; each run gets a file copy of it, so both rows start from the same table.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Database } from "../src/db/connect.ts";
import { rows } from "../src/db/rows.ts";
import { type ModeResult, measureMode } from "./e2e-mode.ts";
import { headlineCpu } from "./e2e-throughput.ts";
import type { BenchOptions } from "./options.ts";
import { type Figures, put } from "./report.ts";
import {
  adminQuery,
  createTarget,
  type DatabaseTarget,
  openTarget,
  vacuumAnalyze,
} from "./support/database.ts";
import { say } from "./support/progress.ts";
import { EVENT_NAME } from "./support/seed.ts";
import { cpuCell, num, perEvent, seconds, type Table } from "./table.ts";

/** The seeded events' own times: spread over the ten days before 36 days ago. */
const OLDEST_DAYS = 46;
const NEWEST_DAYS = 36;

/** One run of the table. */
interface RetentionRun {
  retention: boolean;
  result: ModeResult;
}

/** Seeds the template: old reported events, an attempt each, their count, a clean reconciliation. */
async function seedTemplate(db: Database["db"], events: number, customers: number): Promise<void> {
  // Ids in key order (zero-padded), so the primary key fills at its right edge: minutes, not tens.
  await rows(
    db,
    sql`insert into usage_events (id, customer_key, event_name, value, occurred_at, received_at,
          status, attempts, claims, reported_at, first_attempt_at, first_sent_at, last_attempt_at,
          next_attempt_at)
        select 'old-' || lpad(g::text, 9, '0'), 'cust-' || (g % ${customers}), ${EVENT_NAME}, 1,
               t, t, 'reported', 1, 1, t + interval '1 minute', t, t, t, t
          from generate_series(1, ${events}) g,
               lateral (select now() - ${NEWEST_DAYS} * interval '1 day'
                          - (g % 864000) * interval '1 second' as t) x`,
  );
  await rows(
    db,
    sql`insert into usage_event_attempts (event_id, attempt, worker, outcome, started_at, finished_at)
        select 'old-' || lpad(g::text, 9, '0'), 1, 'bench', 'delivered',
               now() - ${NEWEST_DAYS} * interval '1 day', now() - ${NEWEST_DAYS} * interval '1 day'
          from generate_series(1, ${events}) g`,
  );
  await rows(
    db,
    sql`insert into usage_event_counts (hour, status, slot, n)
        values (date_trunc('hour', now() - ${NEWEST_DAYS} * interval '1 day'), 'reported', 0, ${events})`,
  );
  // One clean run over every seeded hour, started after they were all reported.
  await rows(
    db,
    sql`insert into reconciliations (started_at, finished_at, range_start, range_end, ran_by)
        values (now() - ${NEWEST_DAYS - 1} * interval '1 day', now() - ${NEWEST_DAYS - 1} * interval '1 day',
                date_trunc('hour', now() - ${OLDEST_DAYS} * interval '1 day'),
                date_trunc('hour', now() - ${NEWEST_DAYS - 1} * interval '1 day'), 'bench')`,
  );
}

/** A copy of the template, as measureMode's database. */
async function copyOf(template: DatabaseTarget, adminUrl: string): Promise<DatabaseTarget> {
  const from = new URL(template.url ?? "").pathname.slice(1);
  const name = `meterline_bench_${randomBytes(5).toString("hex")}`;
  // A file copy: the WAL-logged default would write the whole database to the WAL again.
  await adminQuery(adminUrl, `create database ${name} template ${from} strategy file_copy`).catch(
    () => adminQuery(adminUrl, `create database ${name} template ${from}`),
  );
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    engine: "postgres",
    env: { DATABASE_URL: url.toString() },
    url: url.toString(),
    pgliteDir: null,
    drop: () => adminQuery(adminUrl, `drop database if exists ${name} with (force)`),
  };
}

/** What the worker's sweep did in a run (retention_runs), and what is left of the old rows. */
async function sweepFigures(database: Database): Promise<Record<string, number>> {
  const [row] = await rows<{ removed: string; attempts: string; seconds: number | null }>(
    database.db,
    sql`select coalesce(sum(removed_events), 0)::text as removed,
               coalesce(sum(removed_attempts), 0)::text as attempts,
               extract(epoch from max(last_batch_at) - min(started_at))::float8 as seconds
          from retention_runs`,
  );
  return {
    removed: Number(row?.removed ?? 0),
    removedAttempts: Number(row?.attempts ?? 0),
    sweepS: row?.seconds ?? 0,
  };
}

/** Runs the retention table (Postgres only). */
export async function runRetention(
  options: BenchOptions,
  footer: () => string[],
): Promise<{ tables: Table[]; figures: Figures }> {
  const template = await createTarget("postgres", options.databaseUrl);
  const runs: RetentionRun[] = [];
  let seedMs = 0;
  try {
    const database = await openTarget(template);
    try {
      say(`retention: seeding ${num(options.retentionEvents)} old reported events`);
      const t0 = Date.now();
      await seedTemplate(database.db, options.retentionEvents, options.customers);
      await vacuumAnalyze(database.db, [
        "usage_events",
        "usage_event_attempts",
        "usage_event_counts",
        "reconciliations",
      ]);
      seedMs = Date.now() - t0;
    } finally {
      await database.close();
    }
    for (let pair = 0; pair < options.retentionPairs; pair++) {
      for (const retention of [false, true]) {
        const result = await measureMode("postgres", "meter_events", options, {
          target: () => copyOf(template, options.databaseUrl),
          env: { METERLINE_RETENTION_DAYS: retention ? "35" : "off" },
          read: sweepFigures,
          // Counted from the processes' start, as the sweep is: the pairs compare like with like.
          warmup: false,
        });
        runs.push({ retention, result });
      }
    }
  } finally {
    await template.drop();
  }

  // Means over the runs of each side: the JSON document holds numbers, not lists.
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const figures: Figures = {};
  put(figures, "seeded_events", options.retentionEvents);
  put(figures, "seed_s", seedMs / 1000);
  put(figures, "pairs", options.retentionPairs);
  for (const key of ["off", "on"] as const) {
    const mine = runs.filter((r) => r.retention === (key === "on")).map((r) => r.result);
    const avg = (f: (x: ModeResult) => number) => mean(mine.map(f));
    put(
      figures,
      `${key}.events_per_s`,
      avg((x) => x.steadyPerS),
    );
    put(
      figures,
      `${key}.cpu_ms_per_event`,
      avg((x) => perEvent(headlineCpu(x.cpu.ms), x.reported)),
    );
    for (const proc of ["worker", "api", "postgres_worker", "postgres_api", "emulator"]) {
      put(
        figures,
        `${key}.cpu_ms_per_event_by_process.${proc}`,
        avg((x) => perEvent(x.cpu.ms[proc] ?? Number.NaN, x.reported)),
      );
    }
    put(
      figures,
      `${key}.removed`,
      avg((x) => x.extra.removed ?? 0),
    );
    put(
      figures,
      `${key}.removed_per_s`,
      avg((x) => (x.extra.sweepS ? (x.extra.removed ?? 0) / x.extra.sweepS : 0)),
    );
  }
  const steady = (on: boolean) =>
    mean(runs.filter((r) => r.retention === on).map((r) => r.result.steadyPerS));
  put(figures, "ratio_on_to_off", steady(true) / steady(false));

  const table: Table = {
    title: `Retention: v1 end to end on Postgres beside ${num(options.retentionEvents)} old reported events, retention off and on`,
    columns: [
      "run",
      "retention",
      "events/s steady",
      "accepted→reported s",
      "reported",
      "CPU worker ms/ev",
      "CPU pg (worker) ms/ev",
      "CPU API ms/ev",
      "CPU pg (API) ms/ev",
      "CPU worker+emulator+pg ms/ev",
      "old events removed",
      "attempts removed",
      "sweep s",
      "removed/s",
      "note",
    ],
    rows: runs.map((r, i) => {
      const x = r.result;
      const cpu = (k: string) => cpuCell(perEvent(x.cpu.ms[k] ?? Number.NaN, x.reported));
      const removed = x.extra.removed ?? 0;
      const sweepS = x.extra.sweepS ?? 0;
      return [
        String(i + 1),
        r.retention ? "on" : "off",
        num(x.steadyPerS),
        seconds(x.acceptedToReportedMs),
        num(x.reported),
        cpu("worker"),
        cpu("postgres_worker"),
        cpu("api"),
        cpu("postgres_api"),
        cpuCell(perEvent(headlineCpu(x.cpu.ms), x.reported)),
        r.retention ? num(removed) : "",
        r.retention ? num(x.extra.removedAttempts ?? 0) : "",
        r.retention ? num(sweepS, 1) : "",
        r.retention && sweepS > 0 ? num(removed / sweepS) : "",
        x.note ?? x.cpu.note ?? "",
      ];
    }),
    notes: [
      `Method: the e2e table's meter_events run on Postgres (its ${num(options.events.meter_events)} events, same processes, emulator and limits), in a copy of one template database that holds ${num(options.retentionEvents)} reported events whose own times lie ${NEWEST_DAYS}–${NEWEST_DAYS + 10} days back, one attempt row each, over the same ${num(options.customers)} customers, and one clean reconciliation over their hours (seeded with generate_series, then VACUUM ANALYZE: ${seconds(seedMs)} s). Runs alternate off, on; "off" sets METERLINE_RETENTION_DAYS=off, "on" leaves the default (35): the worker starts a sweep as it starts (batches of 2,000 events, 200 ms apart) and it runs through the measured run.`,
      `"CPU pg (worker)" is the worker's Postgres backends, the sweep's deletes included. "old events removed", "sweep s" and "removed/s": from the sweep's retention_runs row (first batch to last batch within the run, which stops when the worker stops); the sweep's rate at these settings is what removing all ${num(options.retentionEvents)} would take ÷ that rate.`,
      ...footer(),
    ],
  };
  return { tables: [table], figures };
}
