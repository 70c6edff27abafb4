/**
 * What the emulator's request log and ledger say, without the outbox: when each identifier was
 * sent by Stripe's clock, which usage records each event's requests applied, and whether the
 * log explains every record in the ledger. Pure.
 */
import type { Ledger } from "../../src/emulator/index.ts";
import { bump, type Finding } from "./findings.ts";
import type { LoggedRequest } from "./request-log.ts";

/**
 * Invariant 5 from Stripe's side: no identifier (meter events) and no event's usage record (any
 * key generation) is sent again more than `windowMs` after its first send, by the emulator's
 * clock. A send is any request whose body the emulator read, answered or not: a send that never
 * got an answer starts the window too. Only our account counts (the wrong key's account keeps
 * its own dedup).
 */
export function sentAfterDedupWindow(
  entries: readonly LoggedRequest[],
  windowMs: number,
): Finding[] {
  // The first send is the first in the order requests were made (the wall clock), whatever
  // Stripe's clock said then: a clock moved back must not make a later send look like the first.
  const ordered = entries
    .filter((e) => e.account === "main" && e.sent.length > 0)
    .sort((a, b) => a.wallMs - b.wallMs);
  const first = new Map<string, LoggedRequest>();
  const findings = new Map<string, Finding>();
  for (const e of ordered) {
    for (const s of e.sent) {
      const f = first.get(s.id);
      if (f === undefined) {
        first.set(s.id, e);
        continue;
      }
      const late = e.atMs - f.atMs;
      if (late <= windowMs || findings.has(s.id)) continue;
      const hours = (late / 3_600_000).toFixed(2);
      findings.set(s.id, {
        subject: s.id,
        detail: `sent again ${hours} h after its first send by Stripe's clock (${e.group}, answered ${e.answered ? e.status : "never"}${e.applied ? ", applied" : ""}; sent at ${iso(f.wallMs)} and ${iso(e.wallMs)})`,
      });
    }
  }
  return [...findings.values()];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** How many usage records each event's requests applied at our account (all key generations). */
export function usageRecordsApplied(entries: readonly LoggedRequest[]): Map<string, number> {
  const applied = new Map<string, number>();
  for (const e of entries) {
    if (e.account !== "main" || e.group !== "usage_records" || !e.applied) continue;
    for (const s of e.sent) bump(applied, s.id);
  }
  return applied;
}

/**
 * The log must explain the ledger: the usage records the emulator applied, by (item, timestamp,
 * quantity), are exactly those of the requests the log marks applied. Any difference means the
 * mapping of records to events (by Idempotency-Key) cannot be trusted, or something applied a
 * record behind the log's back. Also: nothing at all may be applied in the wrong key's account.
 */
export function unexplainedRecords(
  entries: readonly LoggedRequest[],
  ledger: Pick<Ledger, "usage_records">,
  otherLedger: Pick<Ledger, "usage_records" | "events"> | null,
): Finding[] {
  const key = (item: string, timestamp: number, quantity: number) =>
    JSON.stringify([item, timestamp, quantity]);
  const balance = new Map<string, number>();
  for (const r of ledger.usage_records)
    bump(balance, key(r.subscription_item, r.timestamp, r.quantity));
  for (const e of entries) {
    if (e.account !== "main" || !e.applied || e.record === null) continue;
    const k = key(e.record.item, e.record.timestamp, e.record.quantity);
    balance.set(k, (balance.get(k) ?? 0) - 1);
  }
  const findings: Finding[] = [];
  for (const [k, n] of balance) {
    if (n === 0) continue;
    findings.push({
      subject: k,
      detail:
        n > 0
          ? `${n} usage record(s) in Stripe's ledger that no logged request applied`
          : `${-n} request(s) logged as applied with no such record in Stripe's ledger`,
    });
  }
  const other = otherLedger ? otherLedger.usage_records.length + otherLedger.events.length : 0;
  if (other > 0) {
    findings.push({
      subject: "wrong account",
      detail: `${other} usage record(s) or meter event(s) were applied in the wrong key's account`,
    });
  }
  return findings;
}

/** Usage record 500s the emulator produced (executed requests, not replays), by whether it applied them. */
export function usageRecord500s(entries: readonly LoggedRequest[]): {
  applied: number;
  notApplied: number;
} {
  let applied = 0;
  let notApplied = 0;
  for (const e of entries) {
    if (e.account !== "main" || e.group !== "usage_records" || e.replayed || e.status !== 500) {
      continue;
    }
    if (e.fault === "ambiguous_500" && e.applied) applied++;
    else if (e.fault === "error_500") notApplied++;
  }
  return { applied, notApplied };
}
