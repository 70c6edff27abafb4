/** Events per v2 stream request (Stripe's limit): the unit of METERLINE_STREAM_DEPTH. */
export const STREAM_REQUEST_EVENTS = 100;

/** The stream's claims take up to this many events: five requests' worth in one statement. */
export const STREAM_CLAIM_MAX = 500;

/**
 * How many events to claim now; 0: wait for room. One-event requests (v1, usage records) hold
 * up to `batchSize` events still to send, besides those in flight (`sending`), claimed in
 * batches of at least half that: what is queued must outlast the next claim and its pre-flight,
 * or the rate limiter's tokens go unused while the queue is empty (they do not accumulate past
 * a short burst). Counting in-flight events against the batch left ~15 ms of queue at 970/s
 * with ~35 ms answers, and a claim slowed by a busy neighbour ran it dry. The stream holds up to
 * `streamDepth` full requests' worth, so that several requests are in flight and the next claim
 * is made while they are sent (with only `batchSize` held, claim, send and settle would take
 * turns). While what is claimed goes to the stream (`streaming`: the last claim did), claims
 * are whole requests' worth, up to STREAM_CLAIM_MAX: the stream's cost is per statement, not
 * per event. Pure.
 */
export function claimSize(
  held: {
    size: number;
    batched: number;
    /** One-event requests in flight: held, but no longer waiting to be sent. */
    sending: number;
  },
  settings: { batchSize: number; streamDepth: number },
  streaming: boolean,
): number {
  const streamRoom = settings.streamDepth * STREAM_REQUEST_EVENTS - held.batched;
  if (streaming) {
    const room = Math.max(0, Math.min(streamRoom, STREAM_CLAIM_MAX));
    return held.size === 0 || room >= STREAM_REQUEST_EVENTS ? room : 0;
  }
  const single = Math.max(0, held.size - held.batched - held.sending);
  const room = Math.max(0, Math.min(settings.batchSize, settings.batchSize - single, streamRoom));
  return held.size === 0 || room >= Math.ceil(settings.batchSize / 2) ? room : 0;
}
