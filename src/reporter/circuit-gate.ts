import type { Db } from "../db/connect.ts";
import type { ReporterCircuit } from "../db/schema/reporter-circuits.ts";
import { coerceError } from "../lib/errors.ts";
import { closeCircuit, openCircuit, readCircuits, takeProbe } from "../outbox/circuits.ts";
import type { ReporterLogger } from "./logger.ts";

/** Why a worker does not send: the open circuit it obeys. */
export interface Halt {
  /** "account", or "systemic:<code>". */
  scope: string;
  reason: string;
  since: Date;
}

/**
 * One worker's view of the reporter circuits (outbox/circuits.ts, table reporter_circuits).
 * The table is the truth shared by every process; this keeps a copy refreshed once per poll,
 * and updates it at once when this worker opens or closes a circuit itself, so the worker
 * that sees the 401 stops on the spot and the others within one poll.
 */
export class CircuitGate {
  private halt: Halt | null = null;
  private syncedAt = Number.NEGATIVE_INFINITY;
  /**
   * This worker's own open or close, until written: a read meanwhile would see the table
   * without it and undo the local state (resume on a fresh 401, or halt after a good probe).
   */
  private writing: Promise<unknown> = Promise.resolve();
  /**
   * Counts this worker's own opens and closes. A read already under way when one began may
   * have been taken before it was written: its answer is dropped (the next poll reads again),
   * or a worker that had just halted on a systemic rejection resumed at once and sent its
   * events into the same cause again.
   */
  private changes = 0;

  constructor(
    private readonly db: Db,
    private readonly owner: string,
    private readonly probeMs: number,
    private readonly pollMs: number,
    private readonly logger: ReporterLogger,
    /** How the shared circuits are read (a test delays the answer of a real read). */
    private readonly read: (db: Db) => Promise<ReporterCircuit[]> = readCircuits,
  ) {}

  /** The circuit this worker obeys, or null when it may send. */
  get halted(): Halt | null {
    return this.halt;
  }

  /**
   * Reads the shared circuits (at most once per poll unless forced). Returns what changed:
   * "halted" when a circuit opened elsewhere, "resumed" when the last one closed elsewhere.
   */
  async sync(force = false): Promise<"halted" | "resumed" | null> {
    if (!force && Date.now() - this.syncedAt < this.pollMs) return null;
    this.syncedAt = Date.now();
    await this.writing;
    const changes = this.changes;
    const open = await this.read(this.db);
    if (this.changes !== changes) return null;
    const first = open[0];
    const was = this.halt;
    if (!first) {
      this.halt = null;
      if (was) this.logger.info({ scope: was.scope }, "circuit closed: reporting resumed");
      return was ? "resumed" : null;
    }
    // Keep ours when it is still open; otherwise obey the oldest one.
    const same = was && open.find((c) => c.scope === was.scope);
    if (same) return null;
    this.halt = { scope: first.scope, reason: first.reason, since: first.openedAt };
    if (!was) {
      this.logger.error(
        { scope: first.scope, openedBy: first.openedBy },
        `reporting halted: ${first.reason}`,
      );
    }
    return was ? null : "halted";
  }

  /** Opens `scope` for every worker; true when this worker was not halted before. */
  async open(scope: string, reason: string): Promise<boolean> {
    const fresh = this.halt === null;
    this.changes++;
    if (fresh) {
      this.halt = { scope, reason, since: new Date() };
      this.logger.error({ scope, probeMs: this.probeMs }, `reporting halted: ${reason}`);
    }
    const write = openCircuit(this.db, { scope, reason, owner: this.owner, probeMs: this.probeMs });
    this.writing = write.catch(() => {});
    try {
      await write;
    } catch (err) {
      // The others learn it from their own answers; this one finds out again at its next send.
      this.logger.error({ err: coerceError(err), scope }, "could not record the open circuit");
    }
    return fresh;
  }

  /** Takes the probe of the circuit this worker obeys, if it is due and no one else has it. */
  async takeProbe(): Promise<boolean> {
    if (!this.halt) return false;
    return takeProbe(this.db, this.halt.scope, this.owner, this.probeMs);
  }

  /** A probe went through: closes the circuit for every worker, and resumes this one. */
  async close(rule: string): Promise<void> {
    const was = this.halt;
    if (!was) return;
    this.changes++;
    this.halt = null;
    this.logger.info(
      { scope: was.scope, haltedSince: was.since, rule },
      "probe went through: reporting resumed",
    );
    const write = closeCircuit(this.db, was.scope);
    this.writing = write.catch(() => {});
    await write;
  }
}
