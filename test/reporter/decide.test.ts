import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classify } from "../../src/reporter/classify.ts";
import { decide } from "../../src/reporter/decide.ts";
import type { SendResult } from "../../src/reporter/sinks/port.ts";
import { HOUR, NOW, settings } from "./fixtures.ts";

const fresh = { attempts: 0, firstAmbiguousAt: null, firstSentAt: null };
const ok: SendResult = { kind: "ok", status: 200, requestId: "req_ok" };
const timeout: SendResult = { kind: "network", message: "timed out", timeout: true };
const http = (
  status: number,
  code: string | null,
  message = "m",
): Extract<SendResult, { kind: "http_error" }> => ({
  kind: "http_error",
  status,
  type: "invalid_request_error",
  code,
  message,
  param: null,
  shouldRetry: null,
  requestId: "req_x",
});
const half = () => 0.5;

describe("decide", () => {
  it("delivered → reported, attempt counted", () => {
    expect(decide(fresh, classify(ok), NOW, settings, half)).toMatchObject({
      status: "reported",
      counted: true,
      attemptOutcome: "delivered",
    });
  });

  it("duplicate → reported, recorded as a duplicate", () => {
    const dup = classify(http(400, null, "An event already exists with identifier e."));
    expect(decide(fresh, dup, NOW, settings, half)).toMatchObject({
      status: "reported",
      attemptOutcome: "duplicate",
    });
  });

  it("ambiguous retry → pending with backoff, attempt counted, first_ambiguous_at recorded", () => {
    const s = decide(fresh, classify(timeout), NOW, settings, half);
    expect(s).toMatchObject({ status: "pending", counted: true, waitReason: "retry" });
    expect(s.firstAmbiguousAt).toEqual(NOW);
    if (s.status !== "pending") throw new Error("expected pending");
    expect(s.delayMs).toBeLessThanOrEqual(settings.backoffBaseMs);
  });

  it("a later ambiguous attempt keeps the FIRST ambiguous time", () => {
    const first = new Date(NOW.getTime() - HOUR);
    const s = decide(
      { attempts: 2, firstAmbiguousAt: first, firstSentAt: first },
      classify(timeout),
      NOW,
      settings,
    );
    expect(s.firstAmbiguousAt).toEqual(first);
  });

  it("a non-ambiguous retry leaves first_ambiguous_at unset", () => {
    const s = decide(fresh, classify(http(400, "timestamp_in_future")), NOW, settings);
    expect(s).toMatchObject({ status: "pending", counted: true, firstAmbiguousAt: null });
  });

  it("throttled and halted → pending, NO attempt counted", () => {
    for (const result of [http(429, "rate_limit"), http(401, null)]) {
      const s = decide(
        { attempts: 11, firstAmbiguousAt: null, firstSentAt: null },
        classify(result),
        NOW,
        settings,
      );
      expect(s).toMatchObject({ status: "pending", counted: false });
    }
  });

  it("rejected → failed with Stripe's code and a message saying what to do", () => {
    const s = decide(
      fresh,
      classify({
        ...http(404, "resource_missing", "No such customer: 'cus_x'"),
        param: "customer",
      }),
      NOW,
      settings,
    );
    expect(s).toMatchObject({ status: "failed", code: "resource_missing", counted: true });
    if (s.status !== "failed") throw new Error("expected failed");
    expect(s.message).toContain("No such customer");
    expect(s.message).toContain("req_x");
    expect(s.message).toMatch(/retry the event/);
  });

  it("a rejection without a code is failed as event_rejected or customer_rejected", () => {
    const s = decide(fresh, classify({ ...http(400, null), param: "identifier" }), NOW, settings);
    expect(s).toMatchObject({ status: "failed", code: "event_rejected" });
  });

  it("retries exhausted after maxAttempts → failed retries_exhausted", () => {
    const s = decide(
      { attempts: settings.maxAttempts - 1, firstAmbiguousAt: null, firstSentAt: null },
      classify(http(500, null)),
      NOW,
      settings,
    );
    expect(s).toMatchObject({ status: "failed", code: "retries_exhausted", counted: true });
  });

  it("first ambiguous attempt older than the dedup window → failed dedup_window_expired", () => {
    const first = new Date(NOW.getTime() - settings.dedupWindowMs);
    const s = decide(
      { attempts: 3, firstAmbiguousAt: first, firstSentAt: first },
      classify(timeout),
      NOW,
      settings,
    );
    expect(s).toMatchObject({ status: "failed", code: "dedup_window_expired" });
  });

  it("property: a pending retry is never scheduled past the dedup window", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: settings.maxAttempts - 2 }),
        fc.integer({ min: 0, max: settings.dedupWindowMs + HOUR }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempts, age, r) => {
          const first = new Date(NOW.getTime() - age);
          const s = decide(
            { attempts, firstAmbiguousAt: first, firstSentAt: first },
            classify(timeout),
            NOW,
            settings,
            () => r,
          );
          if (s.status === "pending") {
            expect(NOW.getTime() + s.delayMs - first.getTime()).toBeLessThan(
              settings.dedupWindowMs,
            );
          } else {
            expect(s).toMatchObject({ status: "failed", code: "dedup_window_expired" });
          }
        },
      ),
    );
  });

  it("property: counted attempts never exceed maxAttempts, and only 'retry' stays pending counted", () => {
    const answers: SendResult[] = [
      ok,
      timeout,
      http(500, null),
      http(429, "rate_limit"),
      http(401, null),
      http(400, "parameter_invalid_integer"),
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...answers), { minLength: 1, maxLength: 40 }), (seq) => {
        let state = { attempts: 0, firstAmbiguousAt: null as Date | null, firstSentAt: NOW };
        for (const result of seq) {
          const s = decide(state, classify(result), NOW, settings, half);
          state = {
            attempts: state.attempts + (s.counted ? 1 : 0),
            firstAmbiguousAt: s.firstAmbiguousAt,
            firstSentAt: NOW,
          };
          expect(state.attempts).toBeLessThanOrEqual(settings.maxAttempts);
          if (s.status !== "pending") return;
          if (s.counted) expect(s.attemptOutcome).toBe("retry");
        }
      }),
    );
  });

  it("a usage record 5xx that Stripe's totals could not explain → failed usage_record_unverified, with the figures for a person", () => {
    const answer = classify(http(500, null, "stored")).answer;
    const outcome = {
      kind: "unverified",
      rule: "r",
      answer,
      figures: "Stripe's total is 9",
    } as const;
    const sent = { attempts: 1, firstAmbiguousAt: NOW, firstSentAt: NOW };
    const d = decide(sent, outcome, NOW, settings, half);
    expect(d).toMatchObject({ status: "failed", counted: true, code: "usage_record_unverified" });
    expect(d.status === "failed" && d.message).toContain("Stripe's total is 9");
  });
});
