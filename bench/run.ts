/**
 * `npm run bench`: the entry point. Parses the flags, describes the machine, runs the chosen
 * tables in order and prints each one to stdout as soon as it is done (progress goes to
 * stderr). Benchmarks print figures; they are never tests, and nothing here asserts a speed.
 */
import { runBacklog } from "./backlog-memory.ts";
import { runE2e } from "./e2e-throughput.ts";
import { runIngest } from "./ingest.ts";
import { describeMachine } from "./machine.ts";
import { type BenchOptions, type Engine, parseOptions } from "./options.ts";
import { say } from "./support/progress.ts";
import { renderTable, type Table } from "./table.ts";

/** The parameters, as one line each table carries. */
function parameterLine(o: BenchOptions): string {
  return `Parameters: ${o.quick ? "--quick" : "full"}; events ${o.events}; latency ${o.latencyMs} ± ${o.jitterMs} ms; live limits v1 ${o.v1Limit}/s, v2 ${o.v2Limit} requests/s; customers ${o.customers}; worker batch ${o.workerBatch}, concurrency ${o.workerConcurrency}; baseline tick ${o.baselineTickS} s, window ${o.baselineWindowS} s; ingest ${o.ingestSingles} single + ${o.ingestBatches} × 1,000, ${o.ingestConcurrency} in flight; backlog ${o.backlogLarge} vs ${o.backlogSmall}, window ${o.backlogWindowS} s; engines ${o.engines.join(",")}; modes ${o.modes.join(",")}.`;
}

function print(tables: Table[]): void {
  for (const t of tables) process.stdout.write(`\n${renderTable(t)}`);
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
  const machine = await describeMachine(options.databaseUrl);
  const footer = [`Machine: ${machine.lines.join("; ")}.`, parameterLine(options)];

  process.stdout.write(
    `## Meterline benchmarks (${options.quick ? "--quick" : "full"}), ${new Date().toISOString()}\n\n`,
  );
  process.stdout.write(
    `${machine.lines.map((l) => `- ${l}`).join("\n")}\n- ${parameterLine(options).replace(/^Parameters: /, "parameters: ")}\n`,
  );

  let engines: Engine[] = options.engines;
  if (engines.includes("postgres") && machine.postgresVersion === null) {
    engines = engines.filter((e) => e !== "postgres");
    process.stdout.write(
      `\nPostgres skipped: ${machine.postgresError ?? "unreachable"} (set DATABASE_URL or --database-url).\n`,
    );
  }

  if (options.tables.includes("e2e")) print(await runE2e(options, engines, footer));
  if (options.tables.includes("ingest")) print(await runIngest(options, engines, footer));
  if (options.tables.includes("backlog")) {
    if (engines.includes("postgres")) print(await runBacklog(options, footer));
    else process.stdout.write("\nBacklog table skipped: it needs Postgres (see above).\n");
  }
  say(`bench finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await main();
