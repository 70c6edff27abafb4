/**
 * How many times each case the run exists for happened: a run whose invariants all hold proves
 * nothing about a case it never produced, so every count must be above 0. Pure.
 */
import type { Ledger } from "../../src/emulator/index.ts";
import type { OutboxRow } from "./cross-checks.ts";
import { acceptedPoison, type BadBatch } from "./ingest.ts";
import { usageRecord500s } from "./log-checks.ts";
import type { PlannedEvent } from "./plan.ts";
import type { LoggedRequest } from "./request-log.ts";

/** The scenarios, with what each counts and where the count comes from. */
export const SCENARIOS = {
  kills: "workers SIGKILLed (random ones, and every worker at each clock jump)",
  freezes: "workers frozen (SIGSTOP) for longer than a lease, then resumed",
  key_revocations: "times the Stripe key was revoked, then restored",
  async_rejections:
    "events Stripe accepted and then rejected (ledger: not counted, meter_event_customer_not_found), failed by billing sync",
  async_rejections_while_pending:
    "rejections delivered while their event was still pending (looked up just before each flush)",
  usage_record_500_applied: "usage record requests applied, then answered 500 (request log)",
  usage_record_500_not_applied:
    "usage record requests answered 500 with nothing applied (request log)",
  systemic_storms: "storm phases (Stripe's clock 40 days ahead) in which a systemic circuit opened",
  wrong_account_halts: "wrong-account phases in which a systemic circuit opened",
  customer_scope_failures:
    "events of the customers whose subscription items are gone, failed with resource_missing",
  clock_jumps: "clock jumps past Stripe's 24 h dedup window while events waited",
  dedup_window_refusals:
    "events of the jumps' chosen sets that ended dedup_window_expired (not sent again)",
  poison_batches_refused: "bad batches the API refused whole with a 4xx, nothing stored",
} as const;

/** One scenario's name. */
export type ScenarioName = keyof typeof SCENARIOS;

/** What the counts are taken from. */
export interface ScenarioInput {
  kills: number;
  freezes: number;
  revocations: number;
  whilePending: number;
  stormsHalted: number;
  wrongAccountHalts: number;
  jumps: number;
  /** Rows once every phase drained, before the operator's reconciliation. */
  final: readonly OutboxRow[];
  planned: ReadonlyMap<string, PlannedEvent>;
  jumped: ReadonlySet<string>;
  ledger: Pick<Ledger, "events">;
  requests: readonly LoggedRequest[];
  badBatches: readonly BadBatch[];
}

/** Counts every scenario. */
export function countScenarios(input: ScenarioInput): Record<ScenarioName, number> {
  const notCounted = new Map<string, string>();
  for (const e of input.ledger.events)
    if (!e.counted && e.reason) notCounted.set(e.identifier, e.reason);
  let asyncRejections = 0;
  let customerScope = 0;
  let dedupRefusals = 0;
  for (const row of input.final) {
    if (row.status !== "failed") continue;
    const code = row.lastErrorCode;
    if (code === "meter_event_customer_not_found" && notCounted.get(row.id) === code) {
      asyncRejections++;
    }
    const plan = input.planned.get(row.id);
    if (plan?.poison === "subscription_item_gone" && code === "resource_missing") customerScope++;
    if (code === "dedup_window_expired" && input.jumped.has(row.id)) dedupRefusals++;
  }
  const ur500 = usageRecord500s(input.requests);
  return {
    kills: input.kills,
    freezes: input.freezes,
    key_revocations: input.revocations,
    async_rejections: asyncRejections,
    async_rejections_while_pending: input.whilePending,
    usage_record_500_applied: ur500.applied,
    usage_record_500_not_applied: ur500.notApplied,
    systemic_storms: input.stormsHalted,
    wrong_account_halts: input.wrongAccountHalts,
    customer_scope_failures: customerScope,
    clock_jumps: input.jumps,
    dedup_window_refusals: dedupRefusals,
    poison_batches_refused: input.badBatches.length - acceptedPoison(input.badBatches).length,
  };
}
