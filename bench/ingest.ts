/**
 * Table 2: ingest through POST /v1/events, to a `meterline serve` process (its own process, as
 * production runs it) over real sockets. No reporter runs: this isolates what the API and the
 * database accept.
 * - 1,000-event batches, closed loop (N in flight): events/s, durable — Postgres with its
 *   default synchronous_commit (the table prints the setting), and PGlite as `npm start` has it.
 * - Single events, OPEN loop at --ingest-rate requests/s (Postgres): latency from each
 *   request's scheduled time, so queueing shows (support/open-loop.ts).
 */
import { sql } from "drizzle-orm";
import { rows } from "../src/db/rows.ts";
import type { BenchOptions, Engine } from "./options.ts";
import { type Figures, put } from "./report.ts";
import { type Answer, closeClient, send } from "./support/api.ts";
import { type Accounted, startProcessCpu } from "./support/cpu.ts";
import { createTarget, openTarget } from "./support/database.ts";
import { type MeterlineProcess, spawnMeterline } from "./support/meterline-process.ts";
import { closedLoop, type LoadResult, openLoop } from "./support/open-loop.ts";
import { type PostgresCpu, startPostgresCpu, withApplicationName } from "./support/postgres-cpu.ts";
import { phase, say } from "./support/progress.ts";
import { eventBody, seedForIngest } from "./support/seed.ts";
import { cpuCell, ms, num, percentile, perEvent, rate, type Table } from "./table.ts";

/** Requests sent first and not measured: JIT, connection pools and caches warm up. */
const WARMUP = { single: 200, batch: 3 };
/** Seconds of the open loop sent first at the same rate, not measured. */
const OPEN_WARMUP_S = 2;

/** One load on one engine. */
interface IngestResult {
  engine: Engine;
  kind: "batch" | "single";
  requests: number;
  events: number;
  /** Requests in flight (closed loop) or requests/s (open loop). */
  load: string;
  result: LoadResult;
  /** CPU ms over the load: "api", "postgres", "client". */
  cpuMs: Record<string, number>;
  cpuNote: string | null;
}

const errorOf = (a: Answer) => (a.status === 202 ? null : `${a.status} ${a.text.slice(0, 200)}`);

/** Measures `load` with the CPU of the API process, its Postgres backends and the client. */
async function measured(
  api: MeterlineProcess,
  pgUrl: string | null,
  load: () => Promise<LoadResult>,
): Promise<{ result: LoadResult; cpuMs: Record<string, number>; cpuNote: string | null }> {
  const pgCpu: PostgresCpu | null = pgUrl ? await startPostgresCpu(pgUrl) : null;
  const processes: Record<string, Accounted> = { api: api.pid, client: "self" };
  const cpu = startProcessCpu(processes);
  const result = await load();
  const cpuMs = cpu.stop();
  let cpuNote: string | null = null;
  if (pgCpu) {
    const pg = await pgCpu.stop();
    cpuMs.postgres = pg.byApp ? (pg.byApp["meterline-api"] ?? 0) : Number.NaN;
    cpuNote = pg.why;
  }
  return { result, cpuMs, cpuNote };
}

async function measureEngine(
  engine: Engine,
  options: BenchOptions,
): Promise<{ results: IngestResult[]; durability: string }> {
  const target = await createTarget(engine, options.databaseUrl);
  let api: MeterlineProcess | null = null;
  try {
    const database = await openTarget(target);
    let key: string;
    let durability: string;
    try {
      key = await seedForIngest(database.db, options.customers);
      const [s] = await rows<{ sc: string; fsync: string }>(
        database.db,
        sql`select current_setting('synchronous_commit') as sc, current_setting('fsync') as fsync`,
      );
      durability =
        engine === "postgres"
          ? `Postgres synchronous_commit=${s?.sc}, fsync=${s?.fsync}`
          : "PGlite on disk in a temporary folder, as `npm start` keeps it (see the README on what a 202 guarantees there)";
    } finally {
      // The API process opens the database itself (PGlite: only one process may).
      await database.close();
    }
    api = await spawnMeterline(
      "serve",
      target.url === null
        ? { ...target.env }
        : { DATABASE_URL: withApplicationName(target.url, "meterline-api") },
      { api: true },
    );
    const url = `${api.url}/v1/events`;
    const post = (body: string) => send("POST", url, key, body).then(errorOf);
    const single = (prefix: string) => (i: number) =>
      JSON.stringify(eventBody(prefix, i, options.customers));
    const batch = (prefix: string) => (i: number) =>
      JSON.stringify({
        events: Array.from({ length: 1_000 }, (_, j) =>
          eventBody(prefix, i * 1_000 + j, options.customers),
        ),
      });
    // Bodies are built before a load starts: the client's JSON work is not the server's.
    const built = (n: number, make: (i: number) => string) =>
      Array.from({ length: n }, (_, i) => make(i));

    const warmSingles = built(WARMUP.single, single("warm-s"));
    const warmBatches = built(WARMUP.batch, batch("warm-b"));
    await closedLoop(warmSingles.length, 8, (i) => post(warmSingles[i] ?? ""));
    await closedLoop(warmBatches.length, 2, (i) => post(warmBatches[i] ?? ""));

    const results: IngestResult[] = [];
    const batches = built(options.ingestBatches, batch("b"));
    const bar = phase(`ingest 1,000-event batches on ${engine}`, batches.length);
    const b = await measured(api, target.url, () =>
      closedLoop(
        batches.length,
        options.ingestConcurrency,
        (i) => post(batches[i] ?? ""),
        (n) => bar.update(n),
      ),
    );
    const batchEvents = (batches.length - b.result.errors) * 1_000;
    bar.finish(`${num(rate(batchEvents, b.result.wallMs))} events/s`);
    results.push({
      engine,
      kind: "batch",
      requests: batches.length,
      events: batchEvents,
      load: `${options.ingestConcurrency} in flight`,
      ...b,
    });

    if (engine === "postgres") {
      const warm = built(OPEN_WARMUP_S * options.ingestRate, single("warm-o"));
      await openLoop(warm.length, options.ingestRate, (i) => post(warm[i] ?? ""));
      const n = options.ingestDurationS * options.ingestRate;
      const singles = built(n, single("s"));
      const sbar = phase(`ingest single events, open loop ${options.ingestRate}/s on ${engine}`, n);
      const s = await measured(api, target.url, () =>
        openLoop(
          n,
          options.ingestRate,
          (i) => post(singles[i] ?? ""),
          (d) => sbar.update(d),
        ),
      );
      sbar.finish(
        `p95 ${ms(percentile(s.result.latencies, 95))} ms, p99 ${ms(percentile(s.result.latencies, 99))} ms`,
      );
      results.push({
        engine,
        kind: "single",
        requests: n,
        events: n - s.result.errors,
        load: `${options.ingestRate}/s open loop`,
        ...s,
      });
    }
    return { results, durability };
  } finally {
    await api?.stop().catch(() => {});
    closeClient();
    await target.drop();
  }
}

/** Runs the ingest table on the reachable engines. */
export async function runIngest(
  options: BenchOptions,
  engines: Engine[],
  footer: () => string[],
): Promise<{ tables: Table[]; figures: Figures }> {
  const results: IngestResult[] = [];
  const durability: string[] = [];
  const figures: Figures = {};
  const single = `single_${options.ingestRate}rps`;
  for (const engine of engines) {
    try {
      const measuredEngine = await measureEngine(engine, options);
      results.push(...measuredEngine.results);
      durability.push(measuredEngine.durability);
    } catch (err) {
      say(`ingest on ${engine} failed: ${String(err)}`);
      put(figures, `${engine}.batch_1000.events_per_s`, null);
      put(figures, `${engine}.batch_1000.skipped`, `failed: ${String(err).slice(0, 300)}`);
      if (engine === "postgres") {
        put(figures, `${engine}.${single}.p95_ms`, null);
        put(figures, `${engine}.${single}.p99_ms`, null);
        put(figures, `${engine}.${single}.skipped`, `failed: ${String(err).slice(0, 300)}`);
      }
    }
  }
  for (const r of results) {
    const p = `${r.engine}.${r.kind === "batch" ? "batch_1000" : single}`;
    const l = r.result.latencies;
    put(figures, `${p}.requests`, r.requests);
    put(figures, `${p}.events`, r.events);
    put(figures, `${p}.events_per_s`, rate(r.events, r.result.wallMs));
    put(figures, `${p}.requests_per_s`, rate(r.requests, r.result.wallMs));
    put(figures, `${p}.p50_ms`, percentile(l, 50));
    put(figures, `${p}.p95_ms`, percentile(l, 95));
    put(figures, `${p}.p99_ms`, percentile(l, 99));
    put(figures, `${p}.max_ms`, percentile(l, 100));
    if (r.kind === "single") put(figures, `${p}.client_lag_p99_ms`, percentile(r.result.lags, 99));
    put(figures, `${p}.errors`, r.result.errors);
    put(
      figures,
      `${p}.cpu_ms_per_event`,
      perEvent((r.cpuMs.api ?? 0) + (r.cpuMs.postgres ?? 0), r.events),
    );
    for (const [k, v] of Object.entries(r.cpuMs)) {
      put(figures, `${p}.cpu_ms_per_event_by_process.${k}`, perEvent(v, r.events));
    }
    put(figures, `${p}.skipped`, null);
    if (r.cpuNote) put(figures, `${p}.note`, r.cpuNote);
  }
  return {
    figures,
    tables: [
      {
        title: "Ingest: POST /v1/events to a `meterline serve` process over real sockets",
        columns: [
          "engine",
          "request",
          "load",
          "requests",
          "events",
          "p50 ms",
          "p95 ms",
          "p99 ms",
          "max ms",
          "client lag p99 ms",
          "requests/s",
          "events/s",
          "CPU API ms/ev",
          "CPU pg ms/ev",
          "CPU client ms/ev",
          "errors",
        ],
        rows: results.map((r) => {
          const l = r.result.latencies;
          return [
            r.engine,
            r.kind === "single" ? "1 event" : "1,000 events",
            r.load,
            num(r.requests),
            num(r.events),
            ms(percentile(l, 50)),
            ms(percentile(l, 95)),
            ms(percentile(l, 99)),
            ms(percentile(l, 100)),
            r.kind === "single" ? ms(percentile(r.result.lags, 99)) : "",
            num(rate(r.requests, r.result.wallMs)),
            num(rate(r.events, r.result.wallMs)),
            cpuCell(perEvent(r.cpuMs.api ?? Number.NaN, r.events)),
            r.cpuMs.postgres === undefined
              ? "in API"
              : cpuCell(perEvent(r.cpuMs.postgres, r.events)),
            cpuCell(perEvent(r.cpuMs.client ?? Number.NaN, r.events)),
            r.result.errors > 0 ? `${num(r.result.errors)} (${r.result.firstError ?? ""})` : "0",
          ];
        }),
        notes: [
          `The API is \`meterline serve\` (bin/meterline.js, its own process; Postgres pool as it opens it); the client is the bench process (node:http, keep-alive). No reporter runs. Every event is new (no duplicates); ${num(options.customers)} customers, one meter, tables VACUUM ANALYZEd first.`,
          `1,000-event batches: closed loop, ${options.ingestConcurrency} in flight, ${num(options.ingestBatches)} requests; latency = sent → answer read. Single events: OPEN loop, request i sent at start + i/${options.ingestRate} s whatever the answers do, ${options.ingestDurationS} s measured after ${OPEN_WARMUP_S} s of the same load; latency = SCHEDULED time → answer read, so a server that falls behind shows its queue. "client lag" = how late the client itself sent (if large, the client, not the server, was behind). Nearest-rank percentiles. Not measured: ${WARMUP.single} single and ${WARMUP.batch} batch requests first (warm-up).`,
          `Durability: ${durability.join("; ")}. CPU ms/ev: the API process from /proc/<pid>/stat, its Postgres backends from /proc (by application_name), the client from process.cpuUsage, over the measured load ÷ events. PGlite's CPU is inside the API process.`,
          ...footer(),
        ],
      },
    ],
  };
}
