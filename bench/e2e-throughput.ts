/**
 * Table 1: events accepted → reported, per delivery mode and database, against the emulator
 * with realistic latency and Stripe's live rate limits — and the seed's naive worker on the
 * same load, per mode, in the same run, for the ratio. Each row carries CPU-ms per event of
 * every process involved, the figure that holds on a shared machine.
 */
import { type BaselineResult, measureBaseline } from "./baseline/measure.ts";
import { BATCH, type ModeResult, measureMode, POSTS_IN_FLIGHT } from "./e2e-mode.ts";
import { floorOfV1, floorTable } from "./floor.ts";
import type { BenchOptions, Engine, Mode } from "./options.ts";
import { type Figures, put } from "./report.ts";
import { say } from "./support/progress.ts";
import { SINKS } from "./support/sinks.ts";
import { cpuCell, num, perEvent, rate, ratio, seconds, type Table } from "./table.ts";

/** A run that could not be measured, and why. */
interface Skipped {
  engine: Engine;
  mode: Mode;
  why: string;
}

/** CPU columns: JSON key, heading. On PGlite, `start` runs API and worker together. */
const CPU_COLUMNS: Array<{ key: string; heading: string }> = [
  { key: "api", heading: "CPU API" },
  { key: "worker", heading: "CPU worker" },
  { key: "start", heading: "CPU start (API+worker)" },
  { key: "emulator", heading: "CPU emulator" },
  { key: "postgres_api", heading: "CPU pg (API)" },
  { key: "postgres_worker", heading: "CPU pg (worker)" },
  { key: "client", heading: "CPU bench client" },
];

/**
 * The headline CPU per event, as the issue defines it: worker + emulator + Postgres (the
 * worker's backends). On PGlite the worker is inside `start`, with the API.
 */
export function headlineCpu(ms: Record<string, number>): number {
  const pick = (k: string) => ms[k] ?? 0;
  if ("start" in ms) return pick("start") + pick("emulator");
  return pick("worker") + pick("emulator") + (ms.postgres_worker ?? Number.NaN);
}

/** Everything on Meterline's and Stripe's side (the bench client left out). */
function allCpu(ms: Record<string, number>): number {
  return Object.entries(ms)
    .filter(([k]) => k !== "client")
    .reduce((sum, [, v]) => sum + v, 0);
}

/** Runs the end-to-end table and the baseline table on the reachable engines. */
export async function runE2e(
  options: BenchOptions,
  engines: Engine[],
  footer: () => string[],
): Promise<{ tables: Table[]; figures: Figures }> {
  const results: ModeResult[] = [];
  const skipped: Skipped[] = [];
  const baselines: BaselineResult[] = [];
  for (const engine of engines) {
    for (const mode of options.modes) {
      try {
        baselines.push(await measureBaseline(engine, mode, options));
      } catch (err) {
        say(`baseline ${mode} on ${engine} failed: ${String(err)}`);
      }
      try {
        results.push(await measureMode(engine, mode, options));
      } catch (err) {
        say(`e2e ${mode} on ${engine} failed: ${String(err)}`);
        skipped.push({ engine, mode, why: `failed: ${String(err).slice(0, 300)}` });
      }
    }
  }
  const floor = await floorOfV1(results, options);
  const seed = (engine: Engine, mode: Mode) =>
    baselines.find((b) => b.engine === engine && b.mode === mode);
  const seedRate = (engine: Engine, mode: Mode) => {
    const b = seed(engine, mode);
    return b ? rate(b.reported, b.windowMs) : Number.NaN;
  };

  const figures: Figures = {};
  for (const r of results) {
    const p = `${r.engine}.${r.mode}`;
    const overall = r.stalled ? Number.NaN : rate(r.reported, r.acceptedToReportedMs);
    const steady = r.stalled ? Number.NaN : r.steadyPerS;
    put(figures, `${p}.events`, r.events);
    put(figures, `${p}.reported`, r.reported);
    put(figures, `${p}.failed`, r.failed);
    put(figures, `${p}.ingest_s`, r.ingestMs / 1000);
    put(figures, `${p}.accepted_to_reported_s`, r.acceptedToReportedMs / 1000);
    put(figures, `${p}.events_per_s`, steady);
    put(figures, `${p}.overall_events_per_s`, overall);
    put(figures, `${p}.throttled`, r.throttled);
    put(figures, `${p}.requests`, r.requests);
    put(figures, `${p}.emulator_accepted`, r.ledgerAccepted);
    put(figures, `${p}.cpu_ms_per_event`, perEvent(headlineCpu(r.cpu.ms), r.reported));
    put(figures, `${p}.cpu_ms_per_event_all`, perEvent(allCpu(r.cpu.ms), r.reported));
    for (const [k, v] of Object.entries(r.cpu.ms)) {
      put(figures, `${p}.cpu_ms_per_event_by_process.${k}`, perEvent(v, r.reported));
    }
    put(figures, `${p}.ratio_to_seed`, steady / seedRate(r.engine, r.mode));
    const w = r.warmup;
    put(figures, `${p}.warmup.events`, w?.events ?? 0);
    put(figures, `${p}.warmup.seconds`, w ? w.ms / 1000 : null);
    put(
      figures,
      `${p}.warmup.cpu_ms_per_event`,
      w ? perEvent(headlineCpu(w.cpu.ms), w.events) : null,
    );
    if (w) {
      for (const [k, v] of Object.entries(w.cpu.ms)) {
        put(figures, `${p}.warmup.cpu_ms_per_event_by_process.${k}`, perEvent(v, w.events));
      }
    }
    put(figures, `${p}.skipped`, null);
    put(figures, `${p}.note`, r.note ?? r.cpu.note);
  }
  for (const s of skipped) {
    for (const k of ["events_per_s", "cpu_ms_per_event", "throttled"]) {
      put(figures, `${s.engine}.${s.mode}.${k}`, null);
    }
    put(figures, `${s.engine}.${s.mode}.skipped`, s.why);
  }
  for (const b of baselines) {
    const p = `${b.engine}.${b.mode}.seed`;
    put(figures, `${p}.events_per_s`, rate(b.reported, b.windowMs));
    put(figures, `${p}.reported`, b.reported);
    put(figures, `${p}.window_s`, b.windowMs / 1000);
    put(figures, `${p}.failed_calls`, b.failed);
    put(figures, `${p}.note`, b.firstError);
    put(figures, `${p}.throttled`, b.throttled);
    put(figures, `${p}.first_fetch_rows`, b.firstFetchRows);
    put(figures, `${p}.first_fetch_s`, b.firstFetchMs / 1000);
    const total = Object.values(b.cpuMs).reduce((a, v) => a + v, 0);
    put(figures, `${p}.cpu_ms_per_event`, perEvent(total, b.reported));
    for (const [k, v] of Object.entries(b.cpuMs)) {
      put(
        figures,
        `${p}.cpu_ms_per_event_by_process.${k.replace(/ /g, "_")}`,
        perEvent(v, b.reported),
      );
    }
  }

  const cpuCols = CPU_COLUMNS.filter((c) => results.some((r) => c.key in r.cpu.ms));
  const e2e: Table = {
    title: "End-to-end: events accepted → reported (Meterline as it runs in production)",
    columns: [
      "engine",
      "mode",
      "events",
      "ingest s",
      "accepted→reported s",
      "events/s steady",
      "events/s overall",
      "÷ seed",
      "reported",
      "failed",
      "429s",
      "emulator got",
      ...cpuCols.map((c) => `${c.heading} ms/ev`),
      "CPU worker+emulator+pg ms/ev",
      "warm-up events",
      "warm-up CPU worker+emulator+pg ms/ev",
      "note",
    ],
    rows: [
      ...results.map((r) => {
        const elapsed = r.stalled ? Number.NaN : r.acceptedToReportedMs;
        const steady = r.stalled ? Number.NaN : r.steadyPerS;
        return [
          r.engine,
          r.mode,
          num(r.events),
          seconds(r.ingestMs),
          seconds(elapsed),
          num(steady),
          num(rate(r.reported, elapsed)),
          ratio(steady, seedRate(r.engine, r.mode)),
          num(r.reported),
          num(r.failed),
          num(r.throttled),
          num(r.ledgerAccepted),
          ...cpuCols.map((c) => {
            const v = r.cpu.ms[c.key];
            return v === undefined ? "" : cpuCell(perEvent(v, r.reported));
          }),
          cpuCell(perEvent(headlineCpu(r.cpu.ms), r.reported)),
          num(r.warmup?.events ?? 0),
          r.warmup ? cpuCell(perEvent(headlineCpu(r.warmup.cpu.ms), r.warmup.events)) : "",
          r.note ?? r.cpu.note ?? "",
        ];
      }),
      ...skipped.map((s) => [s.engine, s.mode, "", "", "", "", "", "", "", "", "", "", s.why]),
    ],
    notes: [
      `Method: on Postgres, \`meterline serve\` and \`meterline worker\`, each its own process; on PGlite, \`meterline start\` (API and worker in one process: the embedded database is one process's). Spawned from bin/meterline.js with STRIPE_SECRET_KEY/STRIPE_API_BASE → the emulator process, METERLINE_BATCH_SIZE=${options.workerBatch}, METERLINE_CONCURRENCY=${options.workerConcurrency}, METERLINE_RATE_LIMIT=${options.v1Limit} (a live key's limit), other settings default. The processes start (and the worker registers) before the clock. The bench POSTs the events in batches of ${BATCH}, ${POSTS_IN_FLIGHT} in flight, bodies built before the clock, while the worker runs.`,
      `Warm-up: before the clock, "warm-up events" more (by mode: ${options.modes.map((m) => `${m} ${num(options.warmup[m])}`).join(", ")}; --warmup-events) go the same way through the same processes, until none is pending; then VACUUM ANALYZE on Postgres. A process that has just started spends CPU on warming up (V8 compiling the hot paths and growing its young generation: seconds of CPU over its first seconds of load, once per process start), which made CPU per event a function of the run's length. Every figure of the row but the two warm-up columns is the run after it; "warm-up CPU" is the same headline sum over the warm-up's events, what a freshly started worker pays for them. The floors (table below) warm up the same way; the seed's worker does not.`,
      `"events/s steady": events reported between the 10th and the 90th percentile of reported_at ÷ the time between them — the rate once running, without the first claim, the stream's session and the tail. "events/s overall": reported ÷ (first POST → last reported_at). "÷ seed" divides the steady rate by the seed's naive worker of the same mode and engine (table below).`,
      `CPU ms/ev: CPU time (user + system, every thread) of each process from the first POST until the bench saw nothing pending, ÷ events reported. Spawned processes from /proc/<pid>/stat; "pg (API)"/"pg (worker)": the Postgres backends serving each process (by application_name), from /proc, sampled every 250 ms; "bench client": the bench process (POSTs and polls). The headline "worker+emulator+pg" is worker + emulator + the worker's backends (PGlite: start + emulator, the API included).`,
      `Stripe: the bundled emulator in its own process, latency ${options.latencyMs} ms ± ${options.jitterMs} ms per usage request, live-mode limits: v1 meter events ${num(options.v1Limit)}/s, v2 stream ${num(options.v2Limit)} requests/s, usage records 25 requests/s on that endpoint (and 100/s general). "429s" and "emulator got" are counted by the emulator (not by Meterline): requests answered 429 on the mode's endpoint, and meter events + usage records it accepted (more than reported means resends).`,
      `${num(options.customers)} customers, one meter; events round-robin over customers (Stripe allows one request in flight per customer × meter). Every seeded table VACUUM ANALYZEd before the clock.`,
      ...options.modes.map((m) => `${m}: ${SINKS[m].describe}.`),
      ...footer(),
    ],
  };
  const baseline: Table = {
    title: "The seed's naive worker (bench/baseline/naive-worker.ts), same load, per mode",
    columns: [
      "engine",
      "mode",
      "events queued",
      "first fetch rows",
      "first fetch s",
      "window s",
      "reported",
      "events/s",
      "failed calls",
      "429s",
      "CPU naive worker ms/ev",
      "CPU emulator ms/ev",
      "CPU pg ms/ev",
      "drain of the queue (extrapolated)",
    ],
    rows: baselines.map((b) => {
      const r = rate(b.reported, b.windowMs);
      return [
        b.engine,
        b.mode,
        num(b.events),
        num(b.firstFetchRows),
        seconds(b.firstFetchMs),
        seconds(b.windowMs),
        num(b.reported),
        num(r, 1),
        b.failed > 0 ? `${num(b.failed)} (${b.firstError ?? ""})` : "0",
        num(b.throttled),
        cpuCell(perEvent(b.cpuMs["naive worker"] ?? Number.NaN, b.reported)),
        cpuCell(perEvent(b.cpuMs.emulator ?? Number.NaN, b.reported)),
        b.cpuMs.postgres === undefined
          ? "in worker"
          : cpuCell(perEvent(b.cpuMs.postgres, b.reported)),
        Number.isFinite(r) && r > 0 ? `${num(b.events / r / 60, 1)} min` : "–",
      ];
    }),
    notes: [
      `The seed's worker as written: every ${options.baselineTickS} s (a tick that overruns is followed at once) fetch EVERY pending row, then one by one await the mode's one-event call (v1 meter event; v2 stream request of one event; usage record) with the SDK's defaults, and UPDATE each success. No cap, no concurrency. Measured over a fixed ${options.baselineWindowS} s window that opens when its first fetch (of every pending row: "first fetch" columns) has ended, CPU included, not a full drain: its rate does not depend on what is left, so the drain time is extrapolated linearly (plus that fetch).`,
      `Same emulator settings, same database engine and the same number of events as the Meterline row; it runs in the bench process ("CPU naive worker" is the bench process; on PGlite the database is in it too). "pg": every backend of its database.`,
      ...footer(),
    ],
  };
  const tables = [e2e, baseline];
  if (floor !== null) tables.push(floorTable(floor, results, options, figures, footer));
  return { tables, figures };
}
