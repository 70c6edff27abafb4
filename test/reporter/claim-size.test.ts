import { describe, expect, it } from "vitest";
import {
  claimSize,
  STREAM_CLAIM_MAX,
  STREAM_REQUEST_EVENTS,
} from "../../src/reporter/claim-size.ts";

const settings = { batchSize: 100, streamDepth: 16 };

describe("claimSize", () => {
  it("one-event requests: a whole batch when nothing is held, then only once half a batch has room", () => {
    expect(claimSize({ size: 0, batched: 0, sending: 0 }, settings, false)).toBe(100);
    expect(claimSize({ size: 40, batched: 0, sending: 0 }, settings, false)).toBe(60);
    expect(claimSize({ size: 50, batched: 0, sending: 0 }, settings, false)).toBe(50);
    expect(claimSize({ size: 60, batched: 0, sending: 0 }, settings, false)).toBe(0);
    expect(claimSize({ size: 100, batched: 0, sending: 0 }, settings, false)).toBe(0);
  });

  it("one-event requests in flight do not count against the batch: what is queued must outlast the next claim", () => {
    // 100 held, 40 of them in flight: 60 still to send, so 40 more may be claimed... once half
    // a batch has room: not yet.
    expect(claimSize({ size: 100, batched: 0, sending: 40 }, settings, false)).toBe(0);
    // 100 held, 60 in flight: 40 to send, room for 60.
    expect(claimSize({ size: 100, batched: 0, sending: 60 }, settings, false)).toBe(60);
    // Everything held is in flight: a whole batch.
    expect(claimSize({ size: 64, batched: 0, sending: 64 }, settings, false)).toBe(100);
  });

  it("the stream holds several requests' worth, claimed whole requests at a time, at most STREAM_CLAIM_MAX", () => {
    expect(claimSize({ size: 0, batched: 0, sending: 0 }, settings, true)).toBe(STREAM_CLAIM_MAX);
    // Five requests in flight: five more requests' worth in one claim.
    expect(claimSize({ size: 500, batched: 500, sending: 0 }, settings, true)).toBe(500);
    expect(claimSize({ size: 1_450, batched: 1_450, sending: 0 }, settings, true)).toBe(150);
    // 16 requests' worth held at most: 1,550 of 1,600 held leaves less than one request.
    expect(claimSize({ size: 1_550, batched: 1_550, sending: 0 }, settings, true)).toBe(0);
    expect(claimSize({ size: 1_600, batched: 1_600, sending: 0 }, settings, true)).toBe(0);
    expect(claimSize({ size: 1_500, batched: 1_500, sending: 0 }, settings, true)).toBe(
      STREAM_REQUEST_EVENTS,
    );
  });

  it("stream events held do not count against the one-event batch, but cap what one claim may add", () => {
    // 1,500 stream events held, none single: the batch's room is 100, the stream's 100.
    expect(claimSize({ size: 1_500, batched: 1_500, sending: 0 }, settings, false)).toBe(100);
    // The stream is full: nothing more, whichever sink the next events need.
    expect(claimSize({ size: 1_600, batched: 1_600, sending: 0 }, settings, false)).toBe(0);
    expect(claimSize({ size: 1_590, batched: 1_580, sending: 0 }, settings, false)).toBe(0);
    // One-event requests held beside the stream keep their own bound.
    expect(claimSize({ size: 400, batched: 300, sending: 0 }, settings, false)).toBe(0);
    expect(claimSize({ size: 330, batched: 300, sending: 0 }, settings, false)).toBe(70);
  });

  it("never claims more than the stream's room or less than 0, whatever is held", () => {
    for (let batched = 0; batched <= 2_000; batched += 37) {
      for (const single of [0, 10, 50, 99, 100, 150]) {
        for (const streaming of [false, true]) {
          const n = claimSize({ size: batched + single, batched, sending: 0 }, settings, streaming);
          expect(n).toBeGreaterThanOrEqual(0);
          expect(n).toBeLessThanOrEqual(Math.max(0, 1_600 - batched));
        }
      }
    }
  });
});
