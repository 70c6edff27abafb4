import { hostname } from "node:os";
import { z } from "zod";
import { runAttach } from "../attach/run-attach.ts";
import type { AttachSpec } from "../attach/source-rows.ts";
import { loadConfig } from "../config.ts";
import { migrate } from "../db/migrate.ts";
import { MAX_BATCH } from "../ingest/event-input.ts";
import { openConfiguredDatabase } from "../system.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

const HELP = `Usage: meterline attach --source-url URL --table T --id-column C --customer-column C
         (--event-name NAME | --event-name-column C) --value-column C --follow-column C [options]

Follows a Postgres table of your own (a usage log your services already write) and stores each
new row as a usage event, exactly once. Rows are taken in the order of --follow-column, in
transactions of Meterline's database that also move the attach's checkpoint: stopping or
killing it at any moment loses and repeats nothing, and running it again continues.

  --source-url URL          the Postgres database that holds the table
  --table T                 the table or view (schema.table allowed)
  --id-column C             a unique column: each event's id is att:<name>:<its value>
  --customer-column C       the Meterline customer key
  --event-name NAME         one event name (meter) for every row, or
  --event-name-column C     the column that holds it
  --value-column C          the whole-number value
  --time-column C           the event's time (default: when the row is taken)
  --follow-column C         never decreasing for new rows: a serial id, an insert time
  --where SQL               your own SQL condition on the table; only rows it holds for are taken
  --name N                  the attach's name: its checkpoint and event ids (default: the table)
  --batch N                 rows per transaction (default ${MAX_BATCH})
  --poll-ms MS              wait between reads when nothing is new (default 1000)

A row it cannot take (unknown or deleted customer, no meter, bad value) is recorded in the
attach_refusals table with its id and the reason, printed, and passed: later rows go on.
Several processes with one --name: one works, the others wait and take over if it dies.
It opens Meterline's database itself (DATABASE_URL): run it beside a Meterline on Postgres; the
embedded PGlite database can be open in one process only.`;

const column = z.string().min(1, "must name a column").max(63, "must be at most 63 characters");

const flagsSchema = z.object({
  "source-url": z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL"),
  table: z.string().min(1, "must name a table"),
  "id-column": column,
  "customer-column": column,
  "event-name": z.string().min(1).max(100).optional(),
  "event-name-column": column.optional(),
  "value-column": column,
  "time-column": column.optional(),
  "follow-column": column,
  where: z.string().min(1).optional(),
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,40}$/, "must be 1 to 40 characters from A-Z a-z 0-9 . _ -")
    .optional(),
  batch: z.coerce.number().int().min(1).max(MAX_BATCH).default(MAX_BATCH),
  "poll-ms": z.coerce.number().int().min(10).default(1000),
});

/** `meterline attach`: follow a producer's own usage table. */
export async function cmdAttach(args: string[]): Promise<void> {
  const strings = Object.fromEntries(
    Object.keys(flagsSchema.shape).map((k) => [k, { type: "string" as const }]),
  );
  const parsed = parseFlags(args, strings, flagsSchema, HELP);
  if (!parsed) return;
  const { flags } = parsed;
  if (parsed.positionals.length > 0) throw new UsageError(`attach takes no arguments\n\n${HELP}`);
  if ((flags["event-name"] === undefined) === (flags["event-name-column"] === undefined)) {
    throw new UsageError(`attach needs one of --event-name and --event-name-column\n\n${HELP}`);
  }
  const name = flags.name ?? flags.table.replaceAll(/[^A-Za-z0-9._-]/g, "_").slice(0, 40);
  const spec: AttachSpec = {
    name,
    table: flags.table,
    idColumn: flags["id-column"],
    customerColumn: flags["customer-column"],
    eventName:
      flags["event-name"] !== undefined
        ? { constant: flags["event-name"] }
        : { column: flags["event-name-column"] as string },
    valueColumn: flags["value-column"],
    timeColumn: flags["time-column"] ?? null,
    followColumn: flags["follow-column"],
    where: flags.where ?? null,
  };
  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  try {
    await migrate(database);
    await runAttach(database, spec, {
      sourceUrl: flags["source-url"],
      batch: flags.batch,
      pollMs: flags["poll-ms"],
      owner: `${hostname()}-${process.pid}`,
      limits: config.ingest,
      log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
    });
  } finally {
    await database.close();
  }
}
