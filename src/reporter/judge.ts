import type { Config } from "../config.ts";
import type { SettleRow } from "../outbox/settle.ts";
import type { SendItem } from "./admit.ts";
import { classify, type Outcome } from "./classify.ts";
import { decide, type Settlement } from "./decide.ts";
import { GoneCustomers } from "./gone-customers.ts";
import { OutageTracker } from "./outage.ts";
import { rowFromSettlement } from "./settle-rows.ts";
import type { SendResult } from "./sinks/port.ts";
import type { SystemicGuard } from "./systemic.ts";
import { rejectionCode } from "./systemic-detector.ts";

/** What one answer means, beyond the event: the settlement, and the circuit to open, if any. */
export interface Judgement {
  outcome: Outcome;
  settlement: Settlement;
  /** "account" or "systemic:<code>" when the answer halts every worker; null otherwise. */
  haltScope: string | null;
  /** The rejection code judged systemic, when it just was: its window's dead letters go back. */
  systemicCode: string | null;
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

  /** Before a send: a customer Stripe already said is gone fails without another call. */
  before(item: SendItem, now: Date): SettleRow | null {
    const v = this.gone.verdict(item.outbound.stripeCustomerId, now);
    if (!v) return null;
    const e = item.event;
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

  /** After a send: classify, judge systemic, remember gone customers and outages, decide. */
  after(item: SendItem, result: SendResult, now: Date, haltedScope: string | null): Judgement {
    let outcome = classify(result);
    let haltScope: string | null = outcome.kind === "halt" ? "account" : null;
    let systemicCode: string | null = null;
    if (outcome.kind === "rejected") {
      const code = rejectionCode(outcome);
      const scope = `systemic:${code}`;
      // While halted for this code, a probe that meets it again keeps the halt: judging it
      // alone would dead-letter it as poison once the window has passed.
      const judged = this.systemic.judge(outcome, item.event, now);
      if (haltedScope === scope || judged === "systemic") {
        if (haltedScope !== scope) systemicCode = code;
        haltScope = scope;
        outcome = { kind: "halt", rule: `systemic: ${outcome.rule}`, answer: outcome.answer };
        // The verdicts may have come from the same systemic cause: trust none of them.
        this.gone.clear();
      } else {
        this.gone.remember(item.outbound.stripeCustomerId, outcome, now);
      }
    }
    if (outcome.kind === "delivered") this.outage.delivered(now);
    if (outcome.kind === "retry" && outcome.ambiguous)
      this.outage.failed(item.event.customerKey, now);
    const settlement = decide(item.event, outcome, now, this.settings, this.random, {
      stripeUnavailable: this.outage.unavailable(now),
    });
    return { outcome, settlement, haltScope, systemicCode };
  }

  /** The settle row of a judgement. */
  row(item: SendItem, j: Judgement, startedAt: Date): SettleRow {
    return rowFromSettlement(item.event, j.settlement, startedAt);
  }
}
