import type { DeliveryMode } from "../db/schema/meters.ts";
import type { SettleRow } from "../outbox/settle.ts";
import type { SendResult } from "./sinks/port.ts";
import type { StoredVerdict } from "./verify-stored.ts";

/**
 * What a request to Stripe came back as, for metrics: few values, so that a label never grows
 * with customers or messages. A 429 is its own outcome (the limiter's signal, and an alert's).
 */
export type RequestOutcome =
  | "ok"
  | "throttled"
  | "client_error"
  | "server_error"
  | "timeout"
  | "network";

/** The outcome label of a sink's answer. Pure. */
export function requestOutcome(result: SendResult): RequestOutcome {
  if (result.kind === "ok") return "ok";
  if (result.kind === "network") return result.timeout ? "timeout" : "network";
  if (result.status === 429) return "throttled";
  return result.status >= 500 ? "server_error" : "client_error";
}

/**
 * What the reporter tells the process's metrics (metrics/process-metrics.ts). A port, so the
 * reporter knows nothing of Prometheus, and a test or an embedded caller may pass none.
 */
export interface ReporterMetrics {
  /** One request to Stripe answered (or failed on the wire) after `seconds`. */
  request(mode: DeliveryMode, result: SendResult, seconds: number): void;
  /**
   * One event's outcome, decided by this worker: reported, failed (a dead letter, by code), or
   * pending again (a retry or a wait, by wait reason). `mode` is null when the event never
   * reached a sink (a pre-flight decision without one).
   */
  outcome(mode: DeliveryMode | null, row: SettleRow): void;
  /** One usage record's stored 5xx checked against Stripe's totals, and what the check found. */
  verified(verdict: StoredVerdict["kind"]): void;
  /** Where the live gauges read from: requests in flight and events held, now. */
  watch(state: WorkerGauges): void;
}

/** The worker's state that gauges read at scrape time. */
export interface WorkerGauges {
  inFlight(): number;
  held(): number;
}

/** Metrics that go nowhere: the default of a reporter started without any. */
export const noReporterMetrics: ReporterMetrics = {
  request() {},
  outcome() {},
  verified() {},
  watch() {},
};
