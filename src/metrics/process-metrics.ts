import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DeliveryMode } from "../db/schema/meters.ts";
import type { IngestMetrics } from "../ingest/ingest-metrics.ts";
import type { RemovedBatch } from "../outbox/retention.ts";
import type { SettleRow } from "../outbox/settle.ts";
import {
  type ReporterMetrics,
  requestOutcome,
  type WorkerGauges,
} from "../reporter/reporter-metrics.ts";
import type { SendResult } from "../reporter/sinks/port.ts";
import type { StoredVerdict } from "../reporter/verify-stored.ts";

/** The Stripe endpoint each delivery mode calls: the label users find in Stripe's docs. */
export const ENDPOINT_BY_MODE: Record<DeliveryMode, string> = {
  meter_events: "/v1/billing/meter_events",
  meter_stream: "/v2/billing/meter_event_stream",
  usage_records: "/v1/subscription_items/usage_records",
};

/** Seconds: Stripe answers in tens of ms, a timeout is 10 s; the buckets span both. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds: one event takes ~1 ms, a 1,000-event batch tens of ms. */
const INGEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

/**
 * One process's metrics: its own registry (not prom-client's global one, so that two apps in
 * one process, as in the tests, never share counters), Node's process metrics, and what the
 * reporter and the ingest route count. Labels are bounded: delivery mode, endpoint, outcome,
 * status, error code (the registry's and Stripe's) and wait reason; never a customer or an event.
 */
export class ProcessMetrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: "meterline_stripe_requests_total",
    help: "Requests to Stripe by endpoint and outcome (ok, throttled = 429, client_error, server_error, timeout, network).",
    labelNames: ["endpoint", "outcome"] as const,
    registers: [this.registry],
  });
  private readonly requestSeconds = new Histogram({
    name: "meterline_stripe_request_duration_seconds",
    help: "Time from a request to Stripe leaving to its answer (or failure), by endpoint and outcome.",
    labelNames: ["endpoint", "outcome"] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  private readonly outcomes = new Counter({
    name: "meterline_event_outcomes_total",
    help: "Event outcomes this worker wrote: reported, failed (a dead letter, by code) or pending again (by wait reason), by delivery mode (none: decided before any sink).",
    labelNames: ["mode", "status", "code", "wait_reason"] as const,
    registers: [this.registry],
  });
  private readonly checks = new Counter({
    name: "meterline_usage_record_checks_total",
    help: "Usage-record 5xx stored under an idempotency key, checked against Stripe's totals, by verdict: applied (reported), not_applied (resent under a new key), unknown (dead-lettered as usage_record_unverified), moved (the pair moved during the check: retried), unreachable (totals unreadable: retried), item_gone.",
    labelNames: ["verdict"] as const,
    registers: [this.registry],
  });
  private readonly ingestSeconds = new Histogram({
    name: "meterline_ingest_request_duration_seconds",
    help: "POST /v1/events: time from request to answer, by HTTP status class.",
    labelNames: ["status_class"] as const,
    buckets: INGEST_BUCKETS,
    registers: [this.registry],
  });
  private readonly ingestBatch = new Histogram({
    name: "meterline_ingest_batch_events",
    help: "Events per accepted POST /v1/events request.",
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  private readonly ingestEvents = new Counter({
    name: "meterline_ingest_events_total",
    help: "Events answered 202 by POST /v1/events: accepted (stored now) or duplicate (already stored, or repeated in the batch).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  private readonly retentionRemoved = new Counter({
    name: "meterline_retention_removed_events_total",
    help: "Events this process's retention sweeps removed (reported or discarded, older than METERLINE_RETENTION_DAYS, in hours a reconciliation found clean), by status. stats still counts them.",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });
  private readonly outcomeChildren = new Map<string, { inc(): void }>();
  private readonly requestChildren = new Map<
    string,
    { count: { inc(): void }; time: { observe(seconds: number): void } }
  >();
  private readonly workers: WorkerGauges[] = [];

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const workers = this.workers;
    new Gauge({
      name: "meterline_worker_requests_in_flight",
      help: "Requests to Stripe this process's worker has in flight now.",
      registers: [this.registry],
      collect() {
        this.set(workers.reduce((n, w) => n + w.inFlight(), 0));
      },
    });
    new Gauge({
      name: "meterline_worker_events_held",
      help: "Events this process's worker holds leases on now (queued, in flight, or settling).",
      registers: [this.registry],
      collect() {
        this.set(workers.reduce((n, w) => n + w.held(), 0));
      },
    });
  }

  /** The port the reporter counts through. */
  readonly reporter: ReporterMetrics = {
    request: (mode: DeliveryMode, result: SendResult, seconds: number) => {
      const outcome = requestOutcome(result);
      // Once per v1 request (~1,000/s).
      const children = cached(this.requestChildren, `${mode}\u0000${outcome}`, () => {
        const labels = { endpoint: ENDPOINT_BY_MODE[mode], outcome };
        return { count: this.requests.labels(labels), time: this.requestSeconds.labels(labels) };
      });
      children.count.inc();
      children.time.observe(seconds);
    },
    outcome: (mode: DeliveryMode | null, row: SettleRow) => {
      const code = row.status === "failed" ? (row.error?.code ?? "unknown") : "";
      const waitReason = row.status === "pending" ? (row.waitReason ?? "none") : "";
      const key = `${mode}\u0000${row.status}\u0000${code}\u0000${waitReason}`;
      // Once per event on the stream's path.
      cached(this.outcomeChildren, key, () =>
        this.outcomes.labels({
          mode: mode ?? "none",
          status: row.status,
          code,
          wait_reason: waitReason,
        }),
      ).inc();
    },
    verified: (verdict: StoredVerdict["kind"]) => {
      this.checks.inc({ verdict });
    },
    watch: (state: WorkerGauges) => {
      this.workers.push(state);
    },
  };

  /** What a retention sweep removed, batch by batch. */
  readonly retention = {
    removed: (batch: RemovedBatch) => {
      this.retentionRemoved.inc({ status: "reported" }, batch.reported);
      this.retentionRemoved.inc({ status: "discarded" }, batch.discarded);
    },
  };

  /** The port the ingest route counts through. */
  readonly ingest: IngestMetrics = {
    answered: (statusCode: number, seconds: number) => {
      this.ingestSeconds.observe({ status_class: `${Math.floor(statusCode / 100)}xx` }, seconds);
    },
    stored: (accepted: number, duplicates: number) => {
      this.ingestBatch.observe(accepted + duplicates);
      this.ingestEvents.inc({ result: "accepted" }, accepted);
      this.ingestEvents.inc({ result: "duplicate" }, duplicates);
    },
  };
}

/**
 * The child of a label set, made once and kept under `key`: prom-client hashes the labels at
 * every count otherwise, and the reporter counts on its hot path.
 */
function cached<T>(children: Map<string, T>, key: string, make: () => T): T {
  let child = children.get(key);
  if (child === undefined) {
    child = make();
    children.set(key, child);
  }
  return child;
}
