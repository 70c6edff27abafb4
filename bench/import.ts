/**
 * Table: `meterline import` of an NDJSON file (--import-lines, default 1,000,000) into a
 * `meterline serve` on Postgres: the command as a user runs it, in its own process, its progress
 * bar on stderr. Events/s over the whole command (reading, checking every line, sending), and
 * CPU per event of the importer, the API and the API's Postgres backends.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { rows } from "../src/db/rows.ts";
import type { BenchOptions } from "./options.ts";
import { type Figures, put } from "./report.ts";
import { processCpuMs, startProcessCpu } from "./support/cpu.ts";
import { createTarget, openTarget } from "./support/database.ts";
import {
  benchNodeArgs,
  METERLINE_BIN,
  type MeterlineProcess,
  spawnMeterline,
} from "./support/meterline-process.ts";
import { startPostgresCpu, withApplicationName } from "./support/postgres-cpu.ts";
import { say } from "./support/progress.ts";
import { customerKey, EVENT_NAME, seedForIngest } from "./support/seed.ts";
import { cpuCell, num, perEvent, rate, seconds, type Table } from "./table.ts";

/** Writes `lines` NDJSON events without ids (the importer makes them), a few MB at a time. */
async function writeFile(path: string, lines: number, customers: number): Promise<void> {
  const out = createWriteStream(path);
  const at = Math.floor(Date.now() / 1000) - 3600;
  for (let i = 0; i < lines; ) {
    let chunk = "";
    for (const end = Math.min(lines, i + 10_000); i < end; i++) {
      chunk += `{"customer":"${customerKey(i % customers)}","event_name":"${EVENT_NAME}","value":${(i % 9) + 1},"timestamp":${at + (i % 3600)}}\n`;
    }
    if (!out.write(chunk)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}

/** Runs the import table (Postgres only). */
export async function runImportBench(
  options: BenchOptions,
  footer: () => string[],
): Promise<{ tables: Table[]; figures: Figures }> {
  const figures: Figures = {};
  const lines = options.importLines;
  const dir = mkdtempSync(join(tmpdir(), "meterline-bench-import-"));
  const file = join(dir, "events.ndjson");
  const target = await createTarget("postgres", options.databaseUrl);
  let api: MeterlineProcess | null = null;
  try {
    say(`import: writing ${num(lines)} lines of NDJSON`);
    await writeFile(file, lines, options.customers);
    const database = await openTarget(target);
    let key: string;
    try {
      key = await seedForIngest(database.db, options.customers);
    } finally {
      await database.close();
    }
    if (target.url === null) throw new Error("the import table needs Postgres");
    api = await spawnMeterline(
      "serve",
      { DATABASE_URL: withApplicationName(target.url, "meterline-api") },
      { api: true },
    );
    const pgCpu = await startPostgresCpu(target.url);
    const started = Date.now();
    const child = spawn(process.execPath, [...benchNodeArgs(), METERLINE_BIN, "import", file], {
      env: { ...process.env, METERLINE_API_URL: api.url ?? "", METERLINE_API_KEY: key },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const cpu = startProcessCpu({ api: api.pid });
    // The importer's CPU is read until it exits (its /proc entry goes with it): sampled every
    // 100 ms, the last sample misses at most its final 100 ms.
    const importerStart = processCpuMs(child.pid ?? 0) ?? 0;
    let importerLast = importerStart;
    const sampler = setInterval(() => {
      importerLast = processCpuMs(child.pid ?? 0) ?? importerLast;
    }, 100);
    let summary = "";
    child.stdout?.on("data", (d: Buffer) => {
      summary += d.toString();
    });
    const [code] = (await once(child, "exit")) as [number | null];
    const wallMs = Date.now() - started;
    clearInterval(sampler);
    const cpuMs = cpu.stop();
    cpuMs.importer = importerLast - importerStart;
    const pg = await pgCpu.stop();
    cpuMs.postgres = pg.byApp ? (pg.byApp["meterline-api"] ?? 0) : Number.NaN;
    if (code !== 0) throw new Error(`import exited with ${code}: ${summary.trim()}`);

    const check = await openTarget(target);
    let stored = 0;
    try {
      const [r] = await rows<{ n: number }>(
        check.db,
        sql`select count(*)::int as n from usage_events`,
      );
      stored = r?.n ?? 0;
    } finally {
      await check.close();
    }
    const perSecond = rate(stored, wallMs);
    put(figures, "postgres.ndjson.lines", lines);
    put(figures, "postgres.ndjson.events", stored);
    put(figures, "postgres.ndjson.events_per_s", perSecond);
    put(figures, "postgres.ndjson.wall_s", wallMs / 1000);
    for (const [k, v] of Object.entries(cpuMs)) {
      put(figures, `postgres.ndjson.cpu_ms_per_event_by_process.${k}`, perEvent(v, stored));
    }
    if (pg.why) put(figures, "postgres.ndjson.note", pg.why);
    return {
      figures,
      tables: [
        {
          title: `Import: \`meterline import\` of a ${num(lines)}-line NDJSON file into \`meterline serve\` on Postgres`,
          columns: [
            "lines",
            "stored",
            "wall s",
            "events/s",
            "CPU ms/event importer",
            "API",
            "Postgres",
          ],
          rows: [
            [
              num(lines),
              num(stored),
              seconds(wallMs),
              num(perSecond),
              cpuCell(perEvent(cpuMs.importer ?? Number.NaN, stored)),
              cpuCell(perEvent(cpuMs.api ?? Number.NaN, stored)),
              cpuCell(perEvent(cpuMs.postgres ?? Number.NaN, stored)),
            ],
          ],
          notes: [
            "The importer's CPU is sampled every 100 ms while it runs (its last 100 ms are not counted). The whole command, as a user runs it: reading the file, checking every line with the API's rules, sending 1,000-event batches 4 at a time (its defaults); ids made from the file, so a re-run stores nothing twice.",
            `The command's own summary: ${summary.trim()}`,
            ...footer(),
          ],
        },
      ],
    };
  } finally {
    await api?.stop().catch(() => {});
    await target.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
