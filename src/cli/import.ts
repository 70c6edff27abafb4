import { statSync } from "node:fs";
import cliProgress from "cli-progress";
import { z } from "zod";
import { buildMapping } from "../import/mapping.ts";
import { type ImportReport, ImportStopped, runImport } from "../import/run-import.ts";
import { MAX_BATCH } from "../ingest/event-input.ts";
import { operatorApi, operatorCommand } from "./operator-api.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

const HELP = `Usage: meterline import FILE [options]

Loads usage events from a file through the API: NDJSON (one event object per line) or CSV (a
header line, then one event per line). Every line is checked with the API's own rules first;
errors name their line. Re-running the same command is safe and resumes an interrupted import:
ids make every event idempotent (lines without an id get one made from the file's first 64 KiB
and the line number, the same on every run).

  --format F         ndjson or csv (default: from the file's extension, else ndjson)
  --map F=C,...      take an event field from another column or key, e.g.
                     --map customer=account_id,value=units,timestamp=ts
                     (fields: id, customer, event_name, value, timestamp)
  --event-name NAME  every event's event_name (when the file has none)
  --dry-run          check every line, and that its customer and meter exist; store nothing
  --id-prefix P      ids of lines without one are P-<line> (default imp-<hash of the file>)
  --batch N          events per request (default ${MAX_BATCH})
  --concurrency N    requests in flight (default 4)

Exit code 0: every line imported (or, with --dry-run, would be); 1: some lines refused or the
import stopped (run it again to resume). Talks to a running Meterline like the other operator
commands: METERLINE_API_URL and METERLINE_API_KEY, or the runtime.json of "meterline start".`;

/** `meterline import FILE`: a file of usage events, checked by line and sent in batches. */
export async function cmdImport(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args,
    {
      format: { type: "string" },
      map: { type: "string" },
      "event-name": { type: "string" },
      "dry-run": { type: "boolean" },
      "id-prefix": { type: "string" },
      batch: { type: "string" },
      concurrency: { type: "string" },
    },
    z.object({
      format: z.enum(["ndjson", "csv"]).optional(),
      map: z.string().optional(),
      "event-name": z.string().min(1).optional(),
      "dry-run": z.boolean().optional(),
      "id-prefix": z
        .string()
        .regex(/^[A-Za-z0-9._:-]{1,60}$/, "must be 1 to 60 characters from A-Z a-z 0-9 . _ : -")
        .optional(),
      batch: z.coerce.number().int().min(1).max(MAX_BATCH).optional(),
      concurrency: z.coerce.number().int().min(1).max(16).optional(),
    }),
    HELP,
  );
  if (!parsed) return;
  const { flags, positionals } = parsed;
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) {
    throw new UsageError(`import takes one FILE\n\n${HELP}`);
  }
  try {
    if (!statSync(file).isFile()) throw new Error("not a file");
  } catch {
    throw new UsageError(`import: ${file} is not a readable file`);
  }
  let mapping: ReturnType<typeof buildMapping>;
  try {
    mapping = buildMapping(flags.map, flags["event-name"]);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP}`);
  }
  const format = flags.format ?? (/\.csv$/i.test(file) ? "csv" : "ndjson");
  const api = await operatorApi();
  await operatorCommand("import", async () => {
    const progress = new ImportProgress(statSync(file).size);
    let report: ImportReport;
    try {
      report = await runImport(api, {
        file,
        format,
        mapping,
        dryRun: flags["dry-run"] ?? false,
        batchSize: flags.batch ?? MAX_BATCH,
        concurrency: flags.concurrency ?? 4,
        ...(flags["id-prefix"] ? { idPrefix: flags["id-prefix"] } : {}),
        onProgress: (bytes, lines, stored) => progress.update(bytes, lines, stored),
      });
    } catch (err) {
      progress.stop();
      if (err instanceof ImportStopped) {
        process.stderr.write(
          `meterline import: stopped: ${err.message}. Nothing is lost: run the same command again to resume.\n`,
        );
        return false;
      }
      throw err;
    }
    progress.stop();
    process.stdout.write(renderImport(file, report, flags["dry-run"] ?? false));
    return report.refused === 0 && report.unknown.length === 0;
  });
}

/** The summary a person reads. Pure. */
export function renderImport(file: string, r: ImportReport, dryRun: boolean): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const rate = r.seconds > 0 ? Math.round(r.events / r.seconds) : r.events;
  const lines = dryRun
    ? [
        `Checked ${file}: ${n(r.lines)} lines, ${n(r.events)} events valid, ${n(r.refused)} lines refused, in ${r.seconds.toFixed(1)} s. Nothing was stored (--dry-run).`,
      ]
    : [
        `Imported ${file}: ${n(r.lines)} lines, ${n(r.accepted)} events stored, ${n(r.duplicates)} already stored, ${n(r.refused)} lines refused, in ${r.seconds.toFixed(1)} s (${n(rate)} events/s).`,
      ];
  for (const u of r.unknown) {
    lines.push(
      `  ${u.kind} "${u.name}" ${u.why}: ${n(u.events)} event${u.events === 1 ? "" : "s"}, first at line ${u.firstLine}`,
    );
  }
  if (r.errors.length > 0) {
    lines.push(
      `Lines refused${r.refused > r.errors.length ? ` (the first ${n(r.errors.length)})` : ""}:`,
    );
    for (const e of r.errors.sort((a, b) => a.line - b.line)) {
      // Messages name their field ("value must be …"); the field stays in the JSON of the API.
      lines.push(`  line ${e.line}: ${e.message} [${e.code}]`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** A bar on a terminal; a line every few seconds otherwise (a log keeps the progress). */
class ImportProgress {
  private readonly bar: cliProgress.SingleBar;
  private readonly started = Date.now();

  constructor(private readonly size: number) {
    this.bar = new cliProgress.SingleBar(
      {
        format: "importing {bar} {percentage}% | {lines} lines | {stored} stored | {rate} events/s",
        stream: process.stderr,
        hideCursor: true,
        noTTYOutput: true,
        notTTYSchedule: 5000,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(Math.max(1, size), 0, { lines: 0, stored: 0, rate: 0 });
  }

  update(bytes: number, lines: number, stored: number): void {
    const s = (Date.now() - this.started) / 1000;
    this.bar.update(Math.min(bytes, this.size), {
      lines: lines.toLocaleString("en-US"),
      stored: stored.toLocaleString("en-US"),
      rate: s > 0 ? Math.round(stored / s).toLocaleString("en-US") : 0,
    });
  }

  stop(): void {
    this.bar.stop();
  }
}
