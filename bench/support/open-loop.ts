/**
 * Load generators. A closed loop keeps N requests in flight (each waits for the one before):
 * it measures throughput. An OPEN loop sends on a schedule — request i at start + i / rate —
 * whatever the answers do, and measures each latency from the request's SCHEDULED time, so a
 * server that falls behind shows its queue in the percentiles instead of slowing the client
 * down (the coordinated-omission trap of closed loops).
 */
import { performance } from "node:perf_hooks";

/** What a load measured. */
export interface LoadResult {
  /** Per request: scheduled (open loop) or sent (closed loop) → answer read, ms. */
  latencies: number[];
  /** Open loop: per request, how late the client sent it after its scheduled time, ms. */
  lags: number[];
  /** First request's start → last answer, ms. */
  wallMs: number;
  errors: number;
  firstError: string | null;
}

/** One request: resolves with null on success, or the error text. */
export type Sender = (i: number) => Promise<string | null>;

function collector() {
  const r: LoadResult = { latencies: [], lags: [], wallMs: 0, errors: 0, firstError: null };
  const done = (error: string | null, latency: number) => {
    r.latencies.push(latency);
    if (error !== null) {
      r.errors++;
      r.firstError ??= error;
    }
  };
  return { r, done };
}

/** Sends `count` requests, `concurrency` in flight. */
export async function closedLoop(
  count: number,
  concurrency: number,
  send: Sender,
  onDone: (n: number) => void = () => {},
): Promise<LoadResult> {
  const { r, done } = collector();
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    for (let i = next++; i < count; i = next++) {
      const t = performance.now();
      const error = await send(i);
      done(error, performance.now() - t);
      onDone(r.latencies.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  r.wallMs = performance.now() - started;
  return r;
}

/** The scheduled time of request `i` of an open loop started at `t0`, ms. Pure. */
export function scheduledAt(t0: number, i: number, perSecond: number): number {
  return t0 + (i * 1000) / perSecond;
}

/**
 * Sends `count` requests at `perSecond`, on schedule whatever the answers do; a timer that
 * fires late sends every request that is due at once (its lag is recorded).
 */
export async function openLoop(
  count: number,
  perSecond: number,
  send: Sender,
  onDone: (n: number) => void = () => {},
): Promise<LoadResult> {
  const { r, done } = collector();
  const inFlight: Array<Promise<void>> = [];
  const t0 = performance.now() + 20;
  let i = 0;
  while (i < count) {
    const now = performance.now();
    for (; i < count && scheduledAt(t0, i, perSecond) <= now; i++) {
      const at = scheduledAt(t0, i, perSecond);
      r.lags.push(now - at);
      inFlight.push(
        send(i).then((error) => {
          done(error, performance.now() - at);
          onDone(r.latencies.length);
        }),
      );
    }
    if (i < count) {
      const wait = scheduledAt(t0, i, perSecond) - performance.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    }
  }
  await Promise.all(inFlight);
  r.wallMs = performance.now() - t0;
  return r;
}
