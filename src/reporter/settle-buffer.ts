import type { Db } from "../db/connect.ts";
import { coerceError } from "../lib/errors.ts";
import { type SettleRow, settle } from "../outbox/settle.ts";
import type { ReporterLogger } from "./logger.ts";

/** What a settle buffer may be told besides where to write. */
export interface SettleBufferOptions {
  /** How long a row may wait for others before its statement runs (settleLingerMs); 0: none. */
  lingerMs?: number;
  /** Called with every row as it is queued: its event's outcome is decided, only unwritten. */
  onQueued?: (row: SettleRow) => void;
}

/** How many settlements one statement writes at most. */
const MAX_BATCH = 500;

/** Times one settlement alone may fail with a data error before it is given up. */
const MAX_ROW_FAILURES = 3;

/**
 * Whether an error is about the rows written (Postgres SQLSTATE classes 22, data exception, and
 * 23, integrity violation: a value out of range, say) rather than the database being away. Such
 * an error fails the same rows every time: retrying the batch as it is would wedge the buffer.
 */
export function isDataError(err: unknown): boolean {
  // Drizzle wraps the driver's error (DrizzleQueryError): the SQLSTATE is on its cause.
  for (let e = err, depth = 0; e && depth < 3; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
    e = cause;
  }
  return false;
}

/**
 * Collects settlements and writes them in batches: a row lingers up to `lingerMs` for others to
 * join it (each statement is a commit, an fsync, whatever it holds), and while one statement
 * runs the next batch accumulates, so under load each statement settles many events. A full
 * batch, flush() and a stopping worker do not wait. A write that failed because the database
 * is away is retried as it is (the leases still hold the events); when the worker is stopping
 * it is given up after one retry: the leases expire and the events are sent again, which the
 * identifier makes harmless.
 * A write that failed on its data is split in halves until the row at fault is alone, and that
 * row is given up after a few tries: one bad row never holds back the others.
 */
export class SettleBuffer {
  private readonly queue: SettleRow[] = [];
  /** Data errors of rows written alone, by event id, until given up. */
  private readonly rowFailures = new Map<string, number>();
  /** Sizes of the next batches to write, when a refused batch was split; else MAX_BATCH. */
  private readonly splits: number[] = [];
  private flushing: Promise<void> | null = null;
  private stopping = false;
  /** When the oldest row now queued was pushed: the linger counts from it. */
  private oldestAt = 0;
  /** flush() calls under way: nothing lingers meanwhile. */
  private urgent = 0;
  /** Ends the current linger early (a full batch, a flush). */
  private wake: (() => void) | null = null;

  constructor(
    private readonly db: Db,
    private readonly owner: string,
    private readonly logger: ReporterLogger,
    private readonly retryMs: number,
    /** Called with every row once written (or given up): the worker forgets the lease. */
    private readonly onDone: (row: SettleRow, settled: boolean) => void,
    private readonly options: SettleBufferOptions = {},
  ) {
    this.lingerMs = options.lingerMs ?? 0;
  }

  private readonly lingerMs: number;

  /** Rows waiting to be written, and whether a write is running. */
  get busy(): boolean {
    return this.queue.length > 0 || this.flushing !== null;
  }

  /** Queues a settlement and starts a write if none is running. */
  push(row: SettleRow): void {
    this.options.onQueued?.(row);
    if (this.queue.length === 0) this.oldestAt = Date.now();
    this.queue.push(row);
    if (this.queue.length >= MAX_BATCH) this.wake?.();
    this.flushing ??= this.run().finally(() => {
      this.flushing = null;
    });
  }

  /** Resolves when everything queued so far is written (or given up, when stopping). */
  async flush(stopping = false): Promise<void> {
    this.stopping ||= stopping;
    this.urgent++;
    this.wake?.();
    try {
      while (this.flushing) await this.flushing;
    } finally {
      this.urgent--;
    }
  }

  /** Waits until the oldest queued row has lingered `lingerMs`, unless it must go now. */
  private async linger(): Promise<void> {
    const wait = this.oldestAt + this.lingerMs - Date.now();
    if (wait <= 0 || this.urgent > 0 || this.stopping) return;
    // A split batch isolates a bad row: it goes as it is, at once.
    if (this.splits.length > 0 || this.queue.length >= MAX_BATCH) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = null;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0) {
      await this.linger();
      const batch = this.queue.splice(0, this.splits.shift() ?? MAX_BATCH);
      try {
        const settled = await settle(this.db, this.owner, batch);
        failures = 0;
        for (const row of batch) {
          this.rowFailures.delete(row.id);
          if (!settled.has(row.id)) {
            this.logger.warn(
              { event: row.id, outcome: row.attempt?.outcome ?? row.status },
              "lease lost before settling: another worker owns the event now; outcome not written",
            );
          }
          this.onDone(row, settled.has(row.id));
        }
      } catch (err) {
        if (isDataError(err)) {
          this.isolate(batch, err);
          continue;
        }
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
        // Keep a split batch's size: its rows were set apart for a data error already.
        if (batch.length < MAX_BATCH) this.splits.unshift(batch.length);
        await new Promise((resolve) => setTimeout(resolve, this.retryMs));
      }
    }
  }

  /**
   * A batch refused for its data: halves go back to the front to be written apart, so the good
   * rows settle; a row refused alone MAX_ROW_FAILURES times is given up (its lease expires and
   * the event is claimed again, with its Stripe identifier, so nothing is counted twice).
   */
  private isolate(batch: SettleRow[], err: unknown): void {
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      // Each half as a batch of its own, the first two to be written.
      this.queue.unshift(...batch);
      this.splits.unshift(half, batch.length - half);
      return;
    }
    const [row] = batch;
    if (!row) return;
    const failures = (this.rowFailures.get(row.id) ?? 0) + 1;
    if (failures < MAX_ROW_FAILURES) {
      this.rowFailures.set(row.id, failures);
      this.queue.unshift(row);
      this.splits.unshift(1);
      return;
    }
    this.rowFailures.delete(row.id);
    this.logger.error(
      { err: coerceError(err), event: row.id, outcome: row.attempt?.outcome ?? row.status },
      "settlement refused by the database; given up: the lease expires and the event is sent again",
    );
    this.onDone(row, false);
  }
}
