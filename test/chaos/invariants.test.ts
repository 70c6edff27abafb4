import { describe, expect, it } from "vitest";
import { checkInvariants, INVARIANTS, type InvariantName } from "../../scripts/chaos/invariants.ts";
import {
  counted,
  input,
  ledgerRecord,
  planOf,
  poisonRow,
  RECORDS,
  recordSent,
  rejectedLater,
  row,
  STREAM,
  T0,
} from "./fixtures.ts";

/** The invariants with at least one finding, and how many. */
function broken(
  report: ReturnType<typeof checkInvariants>,
): Partial<Record<InvariantName, number>> {
  const out: Partial<Record<InvariantName, number>> = {};
  for (const name of Object.keys(INVARIANTS) as InvariantName[]) {
    const n = report.findings[name].length;
    if (n > 0) out[name] = n;
  }
  return out;
}

describe("the chaos run's invariant checker (design.md §5)", () => {
  it("a clean run: every healthy event reported once, the poison event failed with its reason", () => {
    const report = checkInvariants(
      input([row("a"), row("b"), poisonRow], [counted("a"), counted("b")]),
    );
    expect(broken(report)).toEqual({});
    expect(report.byStatus).toEqual({ reported: 2, failed: 1 });
    expect(report.failedByCode).toEqual({ customer_deleted: 1 });
    expect(report.poison).toEqual({
      total: 1,
      byKind: { customer_deleted: { total: 1, asExpected: 1, codes: { customer_deleted: 1 } } },
    });
  });

  it("the product's reconciliation must find drift exactly where the ledger differs, and run", () => {
    const drift = (customer: string, difference: number) => ({
      customer: "acme",
      stripe_customer_id: customer,
      event_name: row("a").eventName,
      stripe_meter_id: "mtr_1",
      hour: "2026-01-01T00:00:00.000Z",
      meterline: 5,
      stripe: 5 + difference,
      difference,
      events: 2,
      event_ids: ["a", "b"],
    });
    const clean = [row("a"), row("b"), poisonRow];
    const ledger = [counted("a"), counted("b")];
    // The ledger agrees with the outbox: drift reported is a finding.
    const invented = checkInvariants(
      input(clean, ledger, {
        productReconciliation: { drift: [drift(clean[0]?.stripeCustomerId ?? "", -1)] },
      }),
    );
    expect(broken(invented)).toEqual({ reconciliation_drift: 1 });
    expect(invented.findings.reconciliation_drift[0]?.detail).toMatch(
      /^reported, but the ledger agrees/,
    );
    // Stripe lost "b": the ledger differs, and a reconciliation that saw nothing missed it...
    const lost = [counted("a")];
    const missed = checkInvariants(input(clean, lost, { productReconciliation: { drift: [] } }));
    expect(missed.findings.reconciliation_drift.map((f) => f.detail.slice(0, 7))).toEqual([
      "missed:",
    ]);
    // ...while one that found it agrees with the ledger.
    const seen = checkInvariants(
      input(clean, lost, {
        productReconciliation: { drift: [drift(row("b").stripeCustomerId ?? "", -1)] },
      }),
    );
    expect(seen.findings.reconciliation_drift).toEqual([]);
    const failed = checkInvariants(
      input(clean, ledger, { productReconciliation: { error: "HTTP 503" } }),
    );
    expect(broken(failed)).toEqual({ reconciliation_drift: 1 });
  });

  it("a double count: the same identifier counted twice, and the total above the sum", () => {
    const report = checkInvariants(
      input([row("a"), row("b"), poisonRow], [counted("a"), counted("b"), counted("a")]),
    );
    expect(report.findings.counted_more_than_once).toEqual([
      { subject: "a", detail: "Stripe counts it 2 times (meter_events)" },
    ]);
    expect(report.findings.totals_differ).toEqual([
      {
        subject: `cus_acme × chaos_calls_v1`,
        detail: "Stripe holds 6, reported events sum to 4 (over: double count)",
      },
    ]);
  });

  it("an event Stripe counted that the outbox dead-lettered is counted but not reported", () => {
    const billedPoison = counted("bad-1", 2, "cus_gone");
    const report = checkInvariants(input([row("a"), poisonRow], [counted("a"), billedPoison]));
    expect(report.findings.counted_but_not_reported).toEqual([
      { subject: "bad-1", detail: "Stripe counts it, but it is failed (customer_deleted)" },
    ]);
  });

  it("…unless a person resolved it as delivered (then it is reported, and must be counted)", () => {
    const resolved = row("r", { status: "reported" });
    const ok = checkInvariants(
      input([resolved, poisonRow], [counted("r")], { resolved: new Set(["r"]) }),
    );
    expect(broken(ok)).toEqual({});
    const wrong = checkInvariants(input([resolved, poisonRow], [], { resolved: new Set(["r"]) }));
    expect(wrong.findings.reported_but_not_counted[0]?.detail).toMatch(
      /resolved as delivered by the operator/,
    );
  });

  it("an asynchronous rejection overruled: the ledger has the event uncounted, the outbox says reported", () => {
    // What a broken "async rejections win" guard leaves behind: the worker's later answer
    // ("already exists") wrote reported though Stripe never counted the event.
    const report = checkInvariants(
      input(
        [row("a"), row("gone-1", { eventName: STREAM }), poisonRow],
        [counted("a"), rejectedLater("gone-1")],
      ),
    );
    expect(report.findings.reported_but_not_counted).toEqual([
      {
        subject: "gone-1",
        detail:
          "reported, but Stripe accepted it and did not count it (meter_event_customer_not_found)",
      },
    ]);
  });

  it("a lost event: pending at the end, vanished, stored with other content, or reported but not held", () => {
    const rows = [
      row("a"),
      row("b"),
      row("c", { status: "pending", waitReason: "retry" }),
      row("d", { value: 7 }),
      poisonRow,
    ];
    const base = input(rows, [counted("a"), counted("d", 7)]);
    const planned = new Map(base.planned);
    planned.set("d", planOf(row("d")));
    planned.set("e", planOf(row("e")));
    const report = checkInvariants({ ...base, planned });
    expect(report.findings.lost).toEqual([
      { subject: "c", detail: "still pending (retry)" },
      {
        subject: "d",
        detail: "stored as acme × chaos_calls_v1 = 7, accepted as acme × chaos_calls_v1 = 2",
      },
      { subject: "e", detail: "written but not in the outbox" },
    ]);
    expect(report.findings.reported_but_not_counted).toEqual([
      { subject: "b", detail: "reported, but Stripe does not hold it" },
    ]);
  });

  it("usage records are counted per event through the Idempotency-Key in the request log", () => {
    const r = row("u", { eventName: RECORDS });
    const once = checkInvariants(
      input([r, poisonRow], [], {
        requests: [recordSent("u", T0, { status: 500, fault: "ambiguous_500" })],
        records: [ledgerRecord()],
      }),
    );
    expect(broken(once)).toEqual({});
    // Applied under generation 0 and again under a new key: Stripe holds it twice.
    const twice = checkInvariants(
      input([r, poisonRow], [], {
        requests: [recordSent("u", T0), recordSent("u", T0 + 1)],
        records: [ledgerRecord(), ledgerRecord()],
      }),
    );
    expect(twice.findings.counted_more_than_once).toEqual([
      { subject: "u", detail: "Stripe counts it 2 times (usage_records)" },
    ]);
  });

  it("the request log must explain every usage record in the ledger", () => {
    const r = row("u", { eventName: RECORDS });
    const report = checkInvariants(
      input([r, poisonRow], [], {
        requests: [recordSent("u", T0)],
        records: [ledgerRecord(), ledgerRecord(5)],
      }),
    );
    expect(report.findings.ledger_unexplained_by_log).toEqual([
      {
        subject: JSON.stringify(["si_acme", T0 / 1000, 5]),
        detail: "1 usage record(s) in Stripe's ledger that no logged request applied",
      },
    ]);
  });

  it("a healthy event dead-lettered is wrongly failed; a 401 is account-wide on top", () => {
    const revoked = row("b", {
      status: "failed",
      lastErrorCode: "api_key_invalid",
      lastErrorMessage: "Invalid API Key provided",
      lastHttpStatus: 401,
    });
    const exhausted = row("c", {
      status: "failed",
      lastErrorCode: "retries_exhausted",
      lastErrorMessage: "gave up",
      lastHttpStatus: 500,
    });
    const report = checkInvariants(
      input([row("a"), revoked, exhausted, poisonRow], [counted("a")]),
    );
    expect(report.findings.failed_by_account_or_systemic_cause).toEqual([
      { subject: "b", detail: "failed on an account-wide answer (401 api_key_invalid)" },
    ]);
    expect(report.findings.wrongly_failed).toEqual([
      { subject: "c", detail: "failed: retries_exhausted" },
    ]);
  });

  it("a storm event failed with the storm's code is a systemic failure", () => {
    const r = row("s", {
      status: "failed",
      lastErrorCode: "timestamp_too_far_in_past",
      lastErrorMessage: "too old",
      lastHttpStatus: 400,
    });
    const base = input([row("a"), r, poisonRow], [counted("a")]);
    const planned = new Map(base.planned);
    planned.set("s", planOf(r, { phase: "storm" }));
    const report = checkInvariants({ ...base, planned });
    expect(report.findings.failed_by_account_or_systemic_cause).toEqual([
      {
        subject: "s",
        detail:
          "failed with timestamp_too_far_in_past, the code every customer got in the systemic storm phase",
      },
    ]);
  });

  it("dedup_window_expired is a safe give-up only for events the clock jump chose", () => {
    const expired = row("j", {
      status: "failed",
      lastErrorCode: "dedup_window_expired",
      lastErrorMessage: "first sent a day ago",
    });
    const chosen = checkInvariants(
      input([row("a"), expired, poisonRow], [counted("a")], { jumped: new Set(["j"]) }),
    );
    expect(broken(chosen)).toEqual({});
    const not = checkInvariants(input([row("a"), expired, poisonRow], [counted("a")]));
    expect(not.findings.wrongly_failed).toEqual([
      { subject: "j", detail: "failed: dedup_window_expired" },
    ]);
  });

  it("crash_loop is a safe give-up only when the run took its worker down that many times", () => {
    const looped = row("k", {
      status: "failed",
      lastErrorCode: "crash_loop",
      lastErrorMessage: "its last 5 claims ended with the worker gone",
    });
    const rows = [row("a"), looped, poisonRow];
    const kinds = ["killed", "frozen", "stopped", "killed", "killed"] as const;
    const workers = kinds.map((_, i) => `w${i}`);
    // Its five lost claims, one per worker, as the rescues wrote them (worker_lost rows).
    const applied = workers.map((worker, i) => ({
      eventId: "k",
      worker,
      outcome: "worker_lost",
      startedAtMs: T0 + i * 10_000,
      finishedAtMs: T0 + i * 10_000 + 5,
    }));
    const disrupted = (n: number) => ({
      disrupted: new Map([
        ["k", kinds.slice(0, n).map((kind, i) => ({ workerId: `w${i}`, kind }))],
      ]),
      crashLoopClaims: 5,
      applied,
    });
    expect(broken(checkInvariants(input(rows, [counted("a")], disrupted(5))))).toEqual({});
    // One claim lost with no kill, freeze or stop behind it: a live worker lost its lease.
    const short = checkInvariants(input(rows, [counted("a")], disrupted(4)));
    expect(short.findings.wrongly_failed).toEqual([
      {
        subject: "k",
        detail:
          "failed: crash_loop (held at 4 of the run's kills, freezes and stops; 5 explain it; " +
          "lost claims: w0 killed, w1 frozen, w2 stopped, w3 killed, " +
          `w4 not disrupted, lease out at ${new Date(T0 + 40_000).toISOString()})`,
      },
    ]);
  });

  it("a poison event reported, or failed for another reason, is flagged with its kind", () => {
    const other = { ...poisonRow, lastErrorCode: "retries_exhausted", lastErrorMessage: "gave up" };
    const report = checkInvariants(input([row("a"), other], [counted("a")]));
    expect(report.findings.poison_not_failed_as_expected).toEqual([
      {
        subject: "bad-1",
        detail:
          "customer_deleted: expected failed with customer_deleted, got failed with retries_exhausted",
      },
    ]);
    const reported = checkInvariants(
      input([row("a"), row("bad-1")], [counted("a"), counted("bad-1")]),
    );
    expect(reported.findings.poison_not_failed_as_expected[0]?.detail).toMatch(/got reported$/);
  });

  it("a dead letter without a code or message breaks §5.1", () => {
    const report = checkInvariants(
      input([row("a"), { ...poisonRow, lastErrorMessage: null }], [counted("a")]),
    );
    expect(report.findings.dead_letter_without_reason).toEqual([
      { subject: "bad-1", detail: "failed without a code and a message" },
    ]);
  });

  it("an identifier Stripe counted that the outbox never had is counted but not reported", () => {
    const report = checkInvariants(input([row("a"), poisonRow], [counted("a"), counted("zzz")]));
    expect(report.findings.counted_but_not_reported).toEqual([
      { subject: "zzz", detail: "Stripe counts it (meter); the outbox has no such event" },
    ]);
  });

  it("a bad batch answered 2xx, or with events stored, is accepted poison", () => {
    const report = checkInvariants(
      input([row("a"), poisonRow], [counted("a")], {
        badBatches: [
          { name: "negative_value", status: 400, stored: 0 },
          { name: "unknown_field", status: 202, stored: 6 },
          { name: "same_id", status: 409, stored: 2 },
        ],
      }),
    );
    expect(report.findings.poison_batch_accepted).toEqual([
      { subject: "unknown_field", detail: "answered 202 and 6 of its events were stored" },
      { subject: "same_id", detail: "answered 409 and 2 of its events were stored" },
    ]);
  });
});
