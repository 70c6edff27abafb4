/** What the ingest route tells the process's metrics (metrics/process-metrics.ts): a port. */
export interface IngestMetrics {
  /** A POST /v1/events answered with `statusCode` after `seconds` (every answer, errors too). */
  answered(statusCode: number, seconds: number): void;
  /** A batch committed: events stored now, and those that were already stored or repeated. */
  stored(accepted: number, duplicates: number): void;
}

/** Metrics that go nowhere: an app built without any (tests, embedded callers). */
export const noIngestMetrics: IngestMetrics = {
  answered() {},
  stored() {},
};
