import { describe, expect, it } from "vitest";
import { probeClears } from "../../src/reporter/circuit-actions.ts";
import type { Answer, Outcome } from "../../src/reporter/classify.ts";

const answer: Answer = {
  httpStatus: 200,
  code: null,
  type: null,
  param: null,
  message: "",
  requestId: null,
};
const outcomes: Record<string, Outcome> = {
  delivered: { kind: "delivered", duplicate: false, rule: "2xx", answer },
  rejected: { kind: "rejected", scope: "customer", rule: "rejected", answer },
  parked: { kind: "parked", rule: "meter", answer },
  retry: { kind: "retry", ambiguous: true, rule: "500 server error", answer },
  throttled: { kind: "throttled", rule: "429", answer },
  halt: { kind: "halt", rule: "401 authentication", answer },
};

describe("which probe answers close a circuit", () => {
  it.each([
    ["account", "delivered", true],
    ["account", "rejected", true],
    ["account", "parked", true],
    ["account", "retry", false],
    ["account", "throttled", false],
    ["account", "halt", false],
    ["systemic:resource_missing", "delivered", true],
    ["systemic:resource_missing", "rejected", false],
    ["systemic:resource_missing", "parked", false],
    ["systemic:resource_missing", "retry", false],
    ["systemic:resource_missing", "throttled", false],
  ])("%s circuit, probe %s: closes %s", (scope, kind, closes) => {
    const outcome = outcomes[kind];
    if (!outcome) throw new Error(kind);
    expect(probeClears(scope, outcome)).toBe(closes);
  });
});
