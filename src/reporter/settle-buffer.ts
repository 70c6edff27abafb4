import type { Db } from "../db/connect.ts";
import { coerceError } from "../lib/errors.ts";
import { type SettleRow, settle } from "../outbox/settle.ts";
import type { ReporterLogger } from "./logger.ts";

/** How many settlements one statement writes at most. */
const MAX_BATCH = 500;

/**
 * Collects settlements and writes them in batches: while one statement runs, the next batch
 * accumulates, so under load each statement settles many events, and when idle one event
 * settles at once. A failed write is retried (the leases still hold the events); when the
 * worker is stopping it is given up after one retry: the leases expire and the events are
 * sent again, which the identifier makes harmless.
 */
export class SettleBuffer {
  private readonly queue: SettleRow[] = [];
  private flushing: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly db: Db,
    private readonly owner: string,
    private readonly logger: ReporterLogger,
    private readonly retryMs: number,
    /** Called with every row once written (or given up): the worker forgets the lease. */
    private readonly onDone: (row: SettleRow, settled: boolean) => void,
  ) {}

  /** Rows waiting to be written, and whether a write is running. */
  get busy(): boolean {
    return this.queue.length > 0 || this.flushing !== null;
  }

  /** Queues a settlement and starts a write if none is running. */
  push(row: SettleRow): void {
    this.queue.push(row);
    this.flushing ??= this.run().finally(() => {
      this.flushing = null;
    });
  }

  /** Resolves when everything queued so far is written (or given up, when stopping). */
  async flush(stopping = false): Promise<void> {
    this.stopping ||= stopping;
    while (this.flushing) await this.flushing;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const settled = await settle(this.db, this.owner, batch);
        failures = 0;
        for (const row of batch) {
          if (!settled.has(row.id)) {
            this.logger.warn(
              { event: row.id, outcome: row.attempt?.outcome ?? row.status },
              "lease lost before settling: another worker owns the event now; outcome not written",
            );
          }
          this.onDone(row, settled.has(row.id));
        }
      } catch (err) {
        failures++;
        const giveUp = this.stopping && failures > 1;
        this.logger.error(
          { err: coerceError(err), events: batch.length, giveUp },
          "could not write settlements",
        );
        if (giveUp) {
          for (const row of batch) this.onDone(row, false);
          continue;
        }
        this.queue.unshift(...batch);
        await new Promise((resolve) => setTimeout(resolve, this.retryMs));
      }
    }
  }
}
