import type { Config } from "../config.ts";
import type { SettleRow } from "../outbox/settle.ts";
import type { SendItem } from "./admit.ts";
import { classify, type Outcome } from "./classify.ts";
import { decide, dedupExpiredMessage, dedupWindowExpired, type Settlement } from "./decide.ts";
import { GoneCustomers } from "./gone-customers.ts";
import { OutageTracker } from "./outage.ts";
import { rowFromPreflight, rowFromSettlement } from "./settle-rows.ts";
import type { SendResult } from "./sinks/port.ts";
import type { SystemicGuard } from "./systemic.ts";
import { rejectionCode } from "./systemic-detector.ts";

/** What one request's answer means: one outcome, the settlement of each of its events, and the
 * circuit to open, if any. */
export interface Verdict {
  outcome: Outcome;
  /** One per event of the request, in the request's order. */
  settlements: Settlement[];
  /** "account" or "systemic:<code>" when the answer halts every worker; null otherwise. */
  haltScope: string | null;
  /** The rejection code judged systemic, when it just was: its window's dead letters go back. */
  systemicCode: string | null;
}

/** What the worker learnt around one request, beyond Stripe's answer. */
export interface RequestFacts {
  /** The circuit this worker obeys, if any. */
  haltedScope: string | null;
  /**
   * A rejection of events that waited behind a systemic circuit: Stripe delivered other
   * customers' events since they last met the code (outbox/systemic-evidence.ts).
   */
  deliveredSinceMet?: boolean;
}

/**
 * The reporter's memory across events, between classify() and decide(): the systemic
 * detector, the gone customers, and whether Stripe looks down. The worker does the I/O.
 */
export class Judge {
  private readonly gone = new GoneCustomers();
  private readonly outage: OutageTracker;

  constructor(
    private readonly settings: Config["worker"],
    private readonly systemic: SystemicGuard,
    private readonly random: () => number,
  ) {
    this.outage = new OutageTracker(settings);
  }

  /**
   * Before a send, the last moment to refuse one without a call: an event first sent longer ago
   * than the dedup window (it may have waited in the queue, behind a halt, since pre-flight)
   * fails as dedup_window_expired; a customer Stripe already said is gone fails too.
   */
  before(item: SendItem, now: Date): SettleRow | null {
    const e = item.event;
    if (e.firstSentAt && dedupWindowExpired(e.firstSentAt, now, this.settings)) {
      return rowFromPreflight(
        e,
        {
          kind: "fail",
          code: "dedup_window_expired",
          message: dedupExpiredMessage(e.firstSentAt, this.settings.dedupWindowMs),
        },
        now,
      );
    }
    const v = this.gone.verdict(item.outbound.stripeCustomerId, now);
    if (!v) return null;
    return {
      id: e.id,
      attempts: e.attempts,
      claims: e.claims,
      status: "failed",
      counted: false,
      delayMs: 0,
      waitReason: null,
      // The first rejection's status and request id: a systemic revert finds these too.
      error: { code: v.code, message: v.message, httpStatus: v.httpStatus, requestId: v.requestId },
      stripeRequestId: null,
      firstAmbiguousAt: e.firstAmbiguousAt,
      sentAt: null,
      attempt: {
        outcome: "rejected",
        httpStatus: null,
        stripeCode: v.code,
        requestId: v.requestId,
        message: v.message,
        startedAt: now,
      },
    };
  }

  /**
   * After a request, given its answer as classify() read it (a 5xx stored under an idempotency
   * key already resolved by Stripe's totals, verify-stored.ts): ONE judgement for the whole
   * request (a stream request of 100 events from many customers is classified, judged systemic
   * or not, and reacted to once), then one settlement per event from it. Remembers gone
   * customers, deliveries and outages.
   */
  request(items: SendItem[], classified: Outcome, now: Date, facts: RequestFacts): Verdict {
    const { haltedScope } = facts;
    let outcome = classified;
    let haltScope: string | null = outcome.kind === "halt" ? "account" : null;
    let systemicCode: string | null = null;
    const customers = [...new Set(items.map((i) => i.event.customerKey))];
    if (outcome.kind === "rejected") {
      const code = rejectionCode(outcome);
      const scope = `systemic:${code}`;
      // While halted for this code, a probe that meets it again keeps the halt: judging it
      // alone would dead-letter it as poison once the window has passed. Out of the halt,
      // events that met the code before, with other customers delivered since, are their own
      // (request.ts): the detector's memory of this process may not reach back that far (a
      // restart, or a process that drew only them), and it would halt again on them alone.
      const own = haltedScope !== scope && facts.deliveredSinceMet === true;
      const judged = own ? "poison" : this.systemic.judge(outcome, customers, now);
      if (haltedScope === scope || judged === "systemic") {
        if (haltedScope !== scope) systemicCode = code;
        haltScope = scope;
        outcome = { kind: "halt", rule: `systemic: ${outcome.rule}`, answer: outcome.answer };
        // The verdicts may have come from the same systemic cause: trust none of them.
        this.gone.clear();
      } else {
        for (const item of items) {
          this.gone.remember(item.outbound.stripeCustomerId, outcome, now);
        }
      }
    }
    if (outcome.kind === "delivered") {
      this.outage.delivered(now);
      for (const key of customers) this.systemic.delivered(key, now);
    }
    if (outcome.kind === "retry" && outcome.ambiguous) {
      for (const key of customers) this.outage.failed(key, now);
    }
    const context = { stripeUnavailable: this.outage.unavailable(now) };
    const settlements = items.map((item) => {
      const s = decide(item.event, outcome, now, this.settings, this.random, context);
      // A systemic halt is not the account's: say which, so a person looks at the right thing.
      return haltScope !== null && haltScope !== "account" && s.status === "pending"
        ? { ...s, waitReason: "systemic_halt" as const }
        : s;
    });
    return { outcome, settlements, haltScope, systemicCode };
  }

  /** How Stripe answered a request, read with its sink's dedup (classify.ts). */
  classify(items: SendItem[], result: SendResult): Outcome {
    return classify(result, items[0]?.sink.dedup ?? "identifier");
  }

  /** The settle row of one event's settlement. */
  row(item: SendItem, settlement: Settlement, startedAt: Date): SettleRow {
    return rowFromSettlement(item.event, settlement, startedAt);
  }
}
