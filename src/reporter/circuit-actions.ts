import type { Config } from "../config.ts";
import type { Db } from "../db/connect.ts";
import { coerceError } from "../lib/errors.ts";
import type { WaitReason } from "../outbox/reasons.ts";
import { revertSystemic } from "../outbox/revert-systemic.ts";
import type { AccountProbe } from "./account-probe.ts";
import type { SendItem } from "./admit.ts";
import type { CircuitGate, Halt } from "./circuit-gate.ts";
import { classify, type Outcome } from "./classify.ts";
import { describeAnswer } from "./decide.ts";
import type { ReporterLogger } from "./logger.ts";
import type { SettleBuffer } from "./settle-buffer.ts";

/** Why a circuit opened, in words for /readyz and the logs: the rule, Stripe's answer, the fix. */
export function haltReason(scope: string, outcome: Extract<Outcome, { kind: "halt" }>): string {
  const fix =
    scope === "account"
      ? "fix the key or the account"
      : "the same rejection came back for many customers at once, which no event causes alone (a deployment, the meter's configuration, the Stripe account, or Stripe itself): fix the cause";
  return `${outcome.rule}: Stripe answered ${describeAnswer(outcome.answer)}. Nothing is failed or counted meanwhile; ${fix}, then reporting resumes by itself.`;
}

/**
 * Whether a probe's answer shows the circuit's cause gone. A transient answer (a 5xx, a 429, a
 * stored 5xx) shows nothing: Stripe may give it before it reads the key or the event, so the
 * circuit stays open for the next probe; closed on one, every worker would send into the same
 * cause again, and a systemic one would take back its dead letters once more. An account
 * circuit closes on any answer that read the key (delivered, or about the event or its meter);
 * a systemic one only on a delivery: a rejection with another code does not show this one's
 * cause gone.
 */
export function probeClears(scope: string, outcome: Outcome): boolean {
  if (outcome.kind === "delivered") return true;
  return scope === "account" && (outcome.kind === "rejected" || outcome.kind === "parked");
}

/** The wait reason of events given back while a circuit is open. */
export function haltWait(halt: Halt | null): WaitReason | undefined {
  if (!halt) return undefined;
  return halt.scope === "account" ? "account_halted" : "systemic_halt";
}

/** The dead letters of a systemic rejection go back to pending (outbox/revert-systemic.ts). */
export async function takeBackSystemic(
  db: Db,
  owner: string,
  buffer: SettleBuffer,
  settings: Config["worker"],
  logger: ReporterLogger,
  code: string,
): Promise<void> {
  try {
    // This worker's own rejections must be written before they can be taken back.
    await buffer.flush();
    const ids = await revertSystemic(db, owner, code, settings.systemicWindowMs);
    logger.error(
      { code, reverted: ids.length, windowMs: settings.systemicWindowMs },
      "systemic rejection: its dead letters of the window are pending again, uncharged",
    );
  } catch (err) {
    logger.error({ err: coerceError(err), code }, "could not take back systemic dead letters");
  }
}

/** What a probe needs from its worker. */
export interface ProbeContext {
  gate: CircuitGate;
  /** Claims and pre-flights one event; null when none is due, undefined when pre-flight kept it. */
  claimOne(): Promise<SendItem | null | undefined>;
  /** Sends it as the probe: the worker closes the circuit when the answer is not a halt. */
  sendProbe(item: SendItem): Promise<unknown>;
  probeAccount: AccountProbe | undefined;
  stopping(): boolean;
}

/**
 * One probe turn, run by a halted worker every poll: it takes the probe when due (one worker
 * of all per haltProbeMs, circuit-gate.ts) and probes with one event, or with none due, with a
 * harmless authenticated call (an account circuit only: a systemic one has nothing at risk
 * while no event is due, and stays open to keep the alarm). Returns true when it resumed.
 */
export async function probeTurn(ctx: ProbeContext): Promise<boolean> {
  const { gate } = ctx;
  if ((await gate.sync(true)) === "resumed") return true;
  if (ctx.stopping() || !(await gate.takeProbe())) return false;
  // Pre-flight may settle the claimed event without a call: then try the next one.
  for (let tries = 0; tries < 10 && !ctx.stopping() && gate.halted; tries++) {
    const item = await ctx.claimOne();
    if (item === null) break;
    if (!item) continue;
    await ctx.sendProbe(item);
    return gate.halted === null;
  }
  if (gate.halted?.scope !== "account" || !ctx.probeAccount || ctx.stopping()) return false;
  const outcome = classify(await ctx.probeAccount());
  if (!probeClears("account", outcome)) return false;
  await gate.close(`account probe: ${outcome.rule}`);
  return true;
}
