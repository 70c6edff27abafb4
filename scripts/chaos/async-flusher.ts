import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import {
  type EventDestination,
  type RunningEmulator,
  signatureHeader,
  type ThinEventRecord,
} from "../../src/emulator/index.ts";
import { thinPayload } from "../../src/emulator/state/thin-events.ts";
import type { LoggedRequest } from "./request-log.ts";

/** How often the flusher looks for rejections to deliver. */
const TICK_MS = 50;
/**
 * Every other error report is held this long after its first rejection, so that some arrive
 * after the worker wrote the event reported and some (those sent at once) before it did.
 */
const HELD_MS = 800;
/**
 * Flushed at once when this many wait, hold or not: Stripe names at most five identifiers per
 * code and meter in a report (MAX_SAMPLES_PER_CODE), and an unnamed rejection is one Meterline
 * cannot fail (it logs the count; only reconciliation finds it). The run keeps every one named.
 * One short of five: a request applied but not yet in the log may already wait in the report.
 */
const FLUSH_AT = 4;
/** Pause between two deliveries of a thin event the API did not take (Stripe retries for days). */
const REDELIVER_MS = 1_000;
/** Deliveries of one thin event before the run gives up on it. */
const MAX_DELIVERIES = 300;

/** What the flusher did, for the report. */
export interface FlusherStats {
  /** Error reports (thin events) built and delivered. */
  reports: number;
  /** Identifiers named as rejected across them. */
  named: number;
  /** Named while their event was still pending in the outbox (looked up just before the flush). */
  whilePending: number;
  /** Named while their event was already reported. */
  afterReported: number;
  /** Rejections Stripe counted but did not name (more than the samples): each one a loss. */
  unnamed: number;
  /** Deliveries the API did not answer 200 at first: delivered again, as Stripe does. */
  redelivered: number;
  /** Thin events the API never took, however often delivered. */
  failedDeliveries: string[];
}

/**
 * Plays Stripe's asynchronous validation reports on the run's schedule, not the emulator's
 * timer: it watches the request log for meter events of customers deleted in Stripe that the
 * emulator accepted, and builds and delivers the error report (signed thin events to the API's
 * POST /webhooks/stripe) soon after, half at once and half after a short hold. Just before each
 * flush it reads those events' status, so it can tell a rejection that arrived while its event
 * was still pending (a worker mid-settle, or waiting to resend an answer it never got) from one
 * that overrules a delivery. Reports stay small: Stripe names at most five identifiers per code
 * and meter in one, so they go out while few have gathered. A delivery the API does not answer
 * 200 is made again every second, as Stripe retries failed deliveries (the emulator does not).
 */
export class AsyncFlusher {
  private readonly waiting = new Map<string, number>();
  private readonly stats: FlusherStats = {
    reports: 0,
    named: 0,
    whilePending: 0,
    afterReported: 0,
    unnamed: 0,
    redelivered: 0,
    failedDeliveries: [],
  };
  /** Thin events the API refused (say, while the key was revoked: it fetches them with it). */
  private readonly undelivered = new Map<
    string,
    { event: ThinEventRecord; tries: number; dueMs: number }
  >();
  private flushes = 0;
  /** A flush asked for by note() and not yet begun. */
  private flushQueued = false;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly emulator: RunningEmulator,
    private readonly db: Db,
    /** Where thin events go: the API's POST /webhooks/stripe and its secret. */
    private readonly destination: EventDestination,
    /** Stripe ids of the customers deleted in Stripe. */
    private readonly goneCustomers: ReadonlySet<string>,
  ) {}

  /** Feed it every logged request (RequestLog.onEntry). */
  note(entry: LoggedRequest): void {
    if (entry.account !== "main" || !entry.applied || entry.group === "usage_records") return;
    let added = false;
    for (const s of entry.sent) {
      if (s.customer !== null && this.goneCustomers.has(s.customer) && !this.waiting.has(s.id)) {
        this.waiting.set(s.id, Date.now());
        added = true;
      }
    }
    // An "at once" turn flushes now, not at the next tick: the answer has only just left, so
    // the worker has not yet settled the event, and the rejection arrives while it is pending.
    if (added && this.flushes % 2 === 0 && this.loop && !this.stopped && !this.flushQueued) {
      this.flushQueued = true;
      // A failure shows at the next tick's flush, which the loop awaits.
      void this.flush()
        .catch(() => 0)
        .finally(() => {
          this.flushQueued = false;
        });
    }
  }

  /** Starts watching. */
  start(): void {
    this.loop ??= (async () => {
      while (!this.stopped) {
        await sleep(TICK_MS);
        const oldest = Math.min(...this.waiting.values());
        const hold = this.flushes % 2 === 0 ? 0 : HELD_MS;
        const due = this.waiting.size > 0 && Date.now() - oldest >= hold;
        if (due || this.waiting.size >= FLUSH_AT) await this.flush();
        await this.redeliver();
      }
    })();
  }

  /** Delivers whatever waits, until the emulator has no rejection left to report and the API took every one. */
  async flushAll(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      if ((await this.flush()) === 0) break;
    }
    const until = Date.now() + 60_000;
    while (this.undelivered.size > 0 && Date.now() < until) {
      await this.redeliver();
      await sleep(200);
    }
    for (const [id, u] of this.undelivered) {
      this.stats.failedDeliveries.push(`${id}: refused ${u.tries} times`);
    }
    this.undelivered.clear();
  }

  /** Stops watching (a flush under way finishes). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.running;
  }

  /** The figures so far. */
  figures(): FlusherStats {
    return { ...this.stats, failedDeliveries: [...this.stats.failedDeliveries] };
  }

  /** One flush, never two at once; returns how many reports went out. */
  private flush(): Promise<number> {
    const next = this.running.then(() => this.flushOnce());
    this.running = next.then(
      () => {},
      () => {},
    );
    return next;
  }

  private async flushOnce(): Promise<number> {
    this.flushes++;
    const ids = [...this.waiting.keys()];
    this.waiting.clear();
    const status = new Map<string, string>();
    if (ids.length > 0) {
      const found = await rows<{ id: string; status: string }>(
        this.db,
        sql`select id, status from usage_events
            where id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`,
      );
      for (const r of found) status.set(r.id, r.status);
    }
    const result = await this.emulator.flushErrorReports();
    for (const event of result.events) {
      this.stats.reports++;
      for (const type of event.data.reason.error_types) {
        this.stats.unnamed += Math.max(0, type.error_count - type.sample_errors.length);
        for (const sample of type.sample_errors) {
          this.stats.named++;
          const before = status.get(sample.request.identifier);
          if (before === "pending") this.stats.whilePending++;
          else if (before === "reported") this.stats.afterReported++;
        }
      }
    }
    for (const d of result.deliveries) {
      const event = result.events.find((e) => e.id === d.event);
      if (d.status !== 200 && event && d.url === this.destination.url) {
        this.undelivered.set(event.id, { event, tries: 1, dueMs: Date.now() + REDELIVER_MS });
      }
    }
    return result.events.length;
  }

  /** Delivers again the thin events the API refused, signed as the emulator signs them. */
  private async redeliver(): Promise<void> {
    for (const [id, u] of this.undelivered) {
      if (Date.now() < u.dueMs) continue;
      const body = JSON.stringify(thinPayload(u.event));
      const status = await fetch(this.destination.url, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "stripe-signature": signatureHeader(body, this.destination.secret, this.emulator.now()),
        },
        body,
        signal: AbortSignal.timeout(5_000),
      }).then(
        async (res) => {
          await res.arrayBuffer();
          return res.status;
        },
        () => null,
      );
      u.tries++;
      if (status === 200) {
        this.stats.redelivered++;
        this.undelivered.delete(id);
      } else if (u.tries >= MAX_DELIVERIES) {
        this.stats.failedDeliveries.push(
          `${id}: refused ${u.tries} times (last ${status ?? "no answer"})`,
        );
        this.undelivered.delete(id);
      } else {
        u.dueMs = Date.now() + REDELIVER_MS;
      }
    }
  }
}
