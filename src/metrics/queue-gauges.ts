import { Gauge, type Registry } from "prom-client";
import type { Db } from "../db/connect.ts";
import { type QueueSnapshot, queueSnapshot } from "../ops/queue-snapshot.ts";

/** A snapshot younger than this is reused: several scrapers (or gauges) cost one read. */
const SNAPSHOT_TTL_MS = 2_000;

/**
 * The queue's gauges, read from the database at scrape time: the same for every process, so
 * only the API registers them (a worker's own listener shows only what it counts). Every gauge
 * of one scrape reads one snapshot.
 */
export function registerQueueGauges(registry: Registry, db: Db, liveWithinMs: number): void {
  let cached: { at: number; snapshot: Promise<QueueSnapshot | null> } | null = null;
  /** The snapshot, or null when the database could not be read (the other metrics still go out). */
  const snapshot = (): Promise<QueueSnapshot | null> => {
    const now = Date.now();
    if (!cached || now - cached.at > SNAPSHOT_TTL_MS) {
      const read = queueSnapshot(db, liveWithinMs).catch(() => {
        // Not kept: the next scrape tries again.
        if (cached?.snapshot === read) cached = null;
        return null;
      });
      cached = { at: now, snapshot: read };
    }
    return cached.snapshot;
  };

  new Gauge({
    name: "meterline_queue_snapshot_up",
    help: "1 when this scrape read the queue from the database; 0 when it could not, and the other queue gauges show nothing (labelled) or 0 (the ages, live workers).",
    registers: [registry],
    async collect() {
      this.set((await snapshot()) === null ? 0 : 1);
    },
  });

  /**
   * A gauge whose samples are read from the snapshot at each scrape; none when it failed (an
   * unlabelled gauge then shows 0: prom-client always prints one; rules check
   * meterline_queue_snapshot_up before trusting a 0).
   */
  function gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: (s: QueueSnapshot) => Array<[Partial<Record<L, string>>, number]>,
  ): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        const s = await snapshot();
        if (s) for (const [labels, value] of read(s)) this.set(labels, value);
      },
    });
  }

  gauge(
    "meterline_events_pending",
    "Events waiting to be reported, by wait reason (none: due, or in flight) and whether a worker holds them (leased).",
    ["wait_reason", "leased"],
    (s) => s.pending.map((p) => [{ wait_reason: p.waitReason, leased: String(p.leased) }, p.n]),
  );
  gauge(
    "meterline_oldest_pending_age_seconds",
    "Seconds since the oldest pending event was received (0 when nothing is pending).",
    [],
    (s) => [[{}, s.oldestPendingAgeS ?? 0]],
  );
  gauge(
    "meterline_oldest_due_age_seconds",
    "Seconds since the longest-overdue event became due with no worker holding it: the queue's lag (0 when none is overdue).",
    [],
    (s) => [[{}, s.oldestDueAgeS]],
  );
  gauge(
    "meterline_dead_letters",
    "Dead letters (failed events) by code: each needs a person (meterline dlq list).",
    ["code"],
    (s) => s.deadLetters.map((d) => [{ code: d.code }, d.n]),
  );
  gauge(
    "meterline_circuit_open_seconds",
    "Open circuits (no worker sends in the scope: the account, or a systemic rejection code), by scope: seconds open. Absent when closed.",
    ["scope"],
    (s) => s.circuits.map((c) => [{ scope: c.scope }, c.openS]),
  );
  gauge(
    "meterline_workers_live",
    "Reporter workers alive now (a heartbeat within two leases).",
    [],
    (s) => [[{}, s.workers.length]],
  );
  /** The latest reconciliation's figure, labelled by how it ended; nothing before the first. */
  const latest = (
    s: QueueSnapshot,
    figure: (r: NonNullable<QueueSnapshot["reconciliation"]>) => number,
  ): Array<[{ result: string }, number]> =>
    s.reconciliation
      ? [[{ result: s.reconciliation.failed ? "failed" : "finished" }, figure(s.reconciliation)]]
      : [];

  gauge(
    "meterline_reconciliation_drift_groups",
    "Customer × meter × hour groups where Stripe's total differs from what Meterline reported, at the latest reconciliation (absent before the first).",
    ["result"],
    (s) => latest(s, (r) => r.driftGroups),
  );
  gauge(
    "meterline_reconciliation_drift_units",
    "Sum of the absolute differences (in meter units) at the latest reconciliation (absent before the first).",
    ["result"],
    (s) => latest(s, (r) => r.driftTotal),
  );
  gauge(
    "meterline_reconciliation_finished_timestamp_seconds",
    "When the latest reconciliation finished, Unix seconds (absent before the first).",
    ["result"],
    (s) => latest(s, (r) => r.finishedS),
  );
  gauge(
    "meterline_worker_in_flight",
    "Requests to Stripe in flight per live worker, at its last heartbeat.",
    ["worker"],
    (s) => s.workers.map((w) => [{ worker: w.id }, w.inFlight]),
  );
}
