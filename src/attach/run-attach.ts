import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Database } from "../db/connect.ts";
import type { EventLimits } from "../ingest/event-input.ts";
import type { AttachSpec, SourceRow } from "./source-rows.ts";
import { type BatchResult, takeBatch } from "./take-batch.ts";

/** How an attach runs, beside what it reads. */
export interface AttachOptions {
  sourceUrl: string;
  /** Rows per transaction. */
  batch: number;
  /** Wait between reads once the table has nothing new. */
  pollMs: number;
  owner: string;
  limits: EventLimits;
  /** One line per thing worth saying (taking over, a refused row, a batch stored). */
  log: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * The advisory lock of one attach name: held for the whole run, on the connection that does the
 * work, so of several processes with one name one works and the others wait in Postgres; a
 * process that dies loses its connection and with it the lock, and a waiting one takes over.
 */
export function attachLockId(name: string): number {
  return createHash("sha256").update(`meterline-attach:${name}`).digest().readUIntBE(0, 6);
}

/**
 * Follows the source table until the signal aborts (or forever): batch after batch while rows
 * come, a poll every `pollMs` when none do. Any error ends the run (rolled back: nothing half
 * taken); running it again continues from the checkpoint.
 */
export async function runAttach(
  database: Database,
  spec: AttachSpec,
  options: AttachOptions,
): Promise<void> {
  const source = new pg.Client({ connectionString: options.sourceUrl });
  await source.connect();
  try {
    const reader = {
      query: (text: string, values: unknown[]) => source.query<SourceRow>(text, values),
    };
    options.log(`waiting for the lock of attach "${spec.name}" (one process per name works)`);
    await database.withAdvisoryLock(attachLockId(spec.name), async (db) => {
      options.log(`following ${spec.table} as attach "${spec.name}"`);
      while (!options.signal?.aborted) {
        const result = await takeBatch(db, reader, spec, options);
        report(result, options.log);
        if (result.read < options.batch) {
          await sleep(options.pollMs, undefined, { signal: options.signal }).catch(() => {});
        }
      }
    });
  } finally {
    await source.end().catch(() => {});
  }
}

function report(result: BatchResult, log: (line: string) => void): void {
  for (const r of result.refused) log(`refused row ${r.rowId}: ${r.code}: ${r.message}`);
  if (result.read > 0) {
    log(
      `took ${result.read} rows: ${result.stored} events stored, ${result.refused.length} refused`,
    );
  }
}
