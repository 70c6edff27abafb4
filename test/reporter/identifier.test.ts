import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { identifierFor, STRIPE_IDENTIFIER_MAX } from "../../src/reporter/identifier.ts";

/** Ids ingest accepts: 1–100 chars of [A-Za-z0-9._:-]. */
const ingestId = fc.stringMatching(/^[A-Za-z0-9._:-]{1,100}$/);

describe("identifierFor", () => {
  it("is deterministic and fits Stripe's 100-char limit for every ingest-valid id", () => {
    fc.assert(
      fc.property(ingestId, (id) => {
        expect(identifierFor(id)).toBe(identifierFor(id));
        expect(identifierFor(id).length).toBeLessThanOrEqual(STRIPE_IDENTIFIER_MAX);
      }),
    );
  });

  it("is the event id itself, so an operator finds the event in Stripe's dashboard", () => {
    expect(identifierFor("order-42:line-7")).toBe("order-42:line-7");
  });

  it("gives different events different identifiers", () => {
    fc.assert(
      fc.property(ingestId, ingestId, (a, b) => {
        fc.pre(a !== b);
        expect(identifierFor(a)).not.toBe(identifierFor(b));
      }),
    );
  });
});
