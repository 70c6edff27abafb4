/**
 * Table 2: ingest through POST /v1/events over real sockets — single-event requests and
 * 1,000-event batches, with a fixed number in flight — latency percentiles and events/s, on
 * PGlite and Postgres. No reporter runs: this isolates what the API and the database accept.
 */
import { performance } from "node:perf_hooks";
import type { BenchOptions, Engine } from "./options.ts";
import { listenApi, postEvents } from "./support/api.ts";
import { freshDatabase, POSTGRES_POOL_SIZE } from "./support/database.ts";
import { phase, say } from "./support/progress.ts";
import { customerKey, eventBody, ingestKey, seedMeterline } from "./support/seed.ts";
import { ms, num, rate, summarize, type Table } from "./table.ts";

/** Requests sent first and not measured: JIT, connection pools and caches warm up. */
const WARMUP = { single: 50, batch: 3 };

/** One load on one engine. */
interface IngestResult {
  engine: Engine;
  kind: "single" | "batch";
  requests: number;
  events: number;
  latencies: number[];
  wallMs: number;
  errors: number;
  firstError: string | null;
}

/**
 * Sends `requests` bodies with `concurrency` in flight; each lane builds its body before it
 * starts the clock, so JSON.stringify is not counted as server latency.
 */
async function load(
  url: string,
  key: string,
  requests: number,
  concurrency: number,
  body: (i: number) => string,
  onDone: (done: number) => void,
): Promise<{ latencies: number[]; wallMs: number; errors: number; firstError: string | null }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    for (let i = next++; i < requests; i = next++) {
      const text = body(i);
      const t = performance.now();
      const res = await postEvents(url, key, text).catch((err: unknown) => ({
        status: 0,
        accepted: 0,
        error: String(err),
      }));
      latencies.push(performance.now() - t);
      if (res.error !== null) {
        errors++;
        firstError ??= `${res.status} ${res.error}`;
      }
      onDone(latencies.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, lane));
  return { latencies, wallMs: performance.now() - started, errors, firstError };
}

async function measureEngine(engine: Engine, options: BenchOptions): Promise<IngestResult[]> {
  const bench = await freshDatabase(engine, options.databaseUrl);
  try {
    const db = bench.database.db;
    // Ingest checks that customers and the meter exist, not that they are linked to Stripe.
    const customers = Array.from({ length: options.customers }, (_, i) => ({
      key: customerKey(i),
      stripeId: `cus_bench${i}`,
    }));
    await seedMeterline(db, { meterId: "mtr_bench", mode: "meter_events", customers });
    const key = await ingestKey(db);
    const api = await listenApi(db);
    const results: IngestResult[] = [];
    try {
      const single = (prefix: string) => (i: number) =>
        JSON.stringify(eventBody(prefix, i, options.customers));
      const batch = (prefix: string) => (i: number) =>
        JSON.stringify({
          events: Array.from({ length: 1_000 }, (_, j) =>
            eventBody(prefix, i * 1_000 + j, options.customers),
          ),
        });
      await load(
        api.url,
        key,
        WARMUP.single,
        options.ingestConcurrency,
        single("warm-s"),
        () => {},
      );
      await load(api.url, key, WARMUP.batch, options.ingestConcurrency, batch("warm-b"), () => {});

      const plans = [
        { kind: "single" as const, requests: options.ingestSingles, per: 1, body: single("s") },
        { kind: "batch" as const, requests: options.ingestBatches, per: 1_000, body: batch("b") },
      ];
      for (const plan of plans) {
        const bar = phase(`ingest ${plan.kind} on ${engine}`, plan.requests);
        const r = await load(
          api.url,
          key,
          plan.requests,
          options.ingestConcurrency,
          plan.body,
          (done) => bar.update(done),
        );
        const events = (plan.requests - r.errors) * plan.per;
        bar.finish(`${num(rate(events, r.wallMs))} events/s`);
        results.push({ engine, kind: plan.kind, requests: plan.requests, events, ...r });
      }
    } finally {
      await api.close();
    }
    return results;
  } finally {
    await bench.close();
  }
}

/** Runs the ingest table on the reachable engines. */
export async function runIngest(
  options: BenchOptions,
  engines: Engine[],
  footer: string[],
): Promise<Table[]> {
  const results: IngestResult[] = [];
  for (const engine of engines) {
    try {
      results.push(...(await measureEngine(engine, options)));
    } catch (err) {
      say(`ingest on ${engine} failed: ${String(err)}`);
    }
  }
  return [
    {
      title: "Ingest: POST /v1/events over real sockets",
      columns: [
        "engine",
        "request",
        "requests",
        "events",
        "in flight",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "requests/s",
        "events/s",
        "errors",
      ],
      rows: results.map((r) => {
        const s = summarize(r.latencies);
        return [
          r.engine,
          r.kind === "single" ? "1 event" : "1,000 events",
          num(r.requests),
          num(r.events),
          num(options.ingestConcurrency),
          ms(s.p50),
          ms(s.p90),
          ms(s.p99),
          ms(s.max),
          num(rate(r.requests, r.wallMs), 0),
          num(rate(r.events, r.wallMs), 0),
          r.errors > 0 ? `${num(r.errors)} (${r.firstError ?? ""})` : "0",
        ];
      }),
      notes: [
        `The API (buildApp) listens on 127.0.0.1:0 in the bench process; the client is fetch (undici, keep-alive) in the same process, ${options.ingestConcurrency} requests in flight, so client and server share the CPU. No reporter runs. Latency = request sent → response read, nearest-rank percentiles.`,
        `Not measured: ${WARMUP.single} single-event and ${WARMUP.batch} batch requests sent first (warm-up). Every event is new (no duplicates); ${num(options.customers)} customers, one meter; each request is one transaction (existence checks, one multi-row INSERT).`,
        `PGlite on disk in a temporary folder (as \`npm start\` keeps it): one connection, so concurrent requests queue on it. Postgres: a pool of ${POSTGRES_POOL_SIZE}, as \`meterline serve\` uses.`,
        ...footer,
      ],
    },
  ];
}
