/**
 * `npm run bench`: the entry point. Parses the flags, describes the machine, runs the chosen
 * tables in order and prints each one to stdout as soon as it is done — or, with --json, one
 * JSON document with every figure at the end (progress goes to stderr either way). Benchmarks
 * print figures; they are never tests, and nothing here asserts a speed.
 */
import { runBacklog } from "./backlog-memory.ts";
import { runE2e } from "./e2e-throughput.ts";
import { runImportBench } from "./import.ts";
import { runIngest } from "./ingest.ts";
import { describeMachine, loadNow } from "./machine.ts";
import { type BenchOptions, type Engine, parseOptions, type TableName } from "./options.ts";
import { runOutbox } from "./outbox.ts";
import { type Figures, put } from "./report.ts";
import { runRetention } from "./retention.ts";
import { checkMeterlineRuns } from "./support/meterline-process.ts";
import { say } from "./support/progress.ts";
import { renderTable, type Table } from "./table.ts";

/** The parameters, as one line each table carries. */
function parameterLine(o: BenchOptions): string {
  const e = o.events;
  return `Parameters: ${o.preset}; e2e events meter_events ${e.meter_events}, meter_stream ${e.meter_stream}, usage_records ${e.usage_records}; latency ${o.latencyMs} ± ${o.jitterMs} ms; live limits v1 ${o.v1Limit}/s, v2 ${o.v2Limit} requests/s, usage records 25/s; customers ${o.customers}; worker batch ${o.workerBatch}, concurrency ${o.workerConcurrency}; seed's worker tick ${o.baselineTickS} s, window ${o.baselineWindowS} s; ingest ${o.ingestBatches} × 1,000 (${o.ingestConcurrency} in flight) + single events open loop ${o.ingestRate}/s for ${o.ingestDurationS} s; backlog ${o.backlogLarge} vs ${o.backlogSmall}, window ${o.backlogWindowS} s; import ${o.importLines} lines; outbox ${o.outboxEvents} events; engines ${o.engines.join(",")}; modes ${o.modes.join(",")}.`;
}

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed.kind === "help") {
    process.stdout.write(parsed.text);
    return;
  }
  if (parsed.kind === "error") {
    process.stderr.write(
      `bench: ${parsed.message}\nRun "npm run bench -- --help" for the flags.\n`,
    );
    process.exitCode = 2;
    return;
  }
  const options = parsed.options;
  const started = Date.now();
  const cannotRun = await checkMeterlineRuns();
  if (cannotRun !== null) {
    process.stderr.write(`bench: ${cannotRun}\n`);
    process.exitCode = 1;
    return;
  }
  const machine = await describeMachine(options.databaseUrl);
  const entry = String(machine.facts.meterline_entry);
  if (/not built|rebuild to measure/.test(entry)) say(`bench: warning: ${entry}`);
  // Under every table: the machine as it was at the start, and the load when the table ended.
  const footer = () => [
    `Machine: ${machine.lines.join("; ")}; load average at this table's end: ${loadNow()}.`,
    parameterLine(options),
  ];
  const doc: Figures = {
    generated_at: new Date().toISOString(),
    preset: options.preset,
    machine: machine.facts,
    parameters: JSON.parse(JSON.stringify(options)) as Figures,
  };
  const print = (tables: Table[]) => {
    if (options.json) return;
    for (const t of tables) process.stdout.write(`\n${renderTable(t)}`);
  };
  const text = (line: string) => {
    if (options.json) say(line.trim());
    else process.stdout.write(line);
  };

  text(`## Meterline benchmarks (${options.preset}), ${new Date().toISOString()}\n\n`);
  text(
    `${machine.lines.map((l) => `- ${l}`).join("\n")}\n- ${parameterLine(options).replace(/^Parameters: /, "parameters: ")}\n`,
  );

  let engines: Engine[] = options.engines;
  if (engines.includes("postgres") && machine.postgresVersion === null) {
    engines = engines.filter((e) => e !== "postgres");
    const why = `Postgres skipped: ${machine.postgresError ?? "unreachable"} (set DATABASE_URL or --database-url)`;
    text(`\n${why}.\n`);
    put(doc, "skipped.postgres", why);
  }

  if (options.tables.includes("e2e")) {
    const r = await runE2e(options, engines, footer);
    doc.e2e = r.figures;
    print(r.tables);
  }
  if (options.tables.includes("ingest")) {
    const r = await runIngest(options, engines, footer);
    doc.ingest = r.figures;
    print(r.tables);
  }
  // The tables that need Postgres: run, or say in both outputs why not. `unmeasured` are the
  // keys a reader may expect, printed as null beside the reason.
  const postgresOnly = async (
    table: TableName,
    title: string,
    run: (o: BenchOptions, f: () => string[]) => Promise<{ tables: Table[]; figures: Figures }>,
    unmeasured: string[] = [],
  ) => {
    if (!options.tables.includes(table)) return;
    if (engines.includes("postgres")) {
      const r = await run(options, footer);
      doc[table] = r.figures;
      print(r.tables);
      return;
    }
    text(`\n${title} table skipped: it needs Postgres (see above).\n`);
    for (const key of unmeasured) put(doc, `${table}.${key}`, null);
    put(doc, `${table}.skipped`, "it needs Postgres");
  };
  await postgresOnly("backlog", "Backlog", runBacklog, ["peak_rss_mb", "ratio_1m_to_10k"]);
  await postgresOnly("retention", "Retention", runRetention);
  await postgresOnly("import", "Import", runImportBench, ["postgres.ndjson.events_per_s"]);
  await postgresOnly("outbox", "Outbox", runOutbox);
  put(doc, "load_average_at_end", loadNow());
  put(doc, "duration_s", (Date.now() - started) / 1000);
  if (options.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  say(`bench finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await main();
