import type { ChaosReport, PhaseResult } from "./chaos.ts";
import { describeCounts } from "./invariants.ts";

const n = (x: number) => x.toLocaleString("en-US");
const pct = (p: number) => `${Math.round(p * 1000) / 10} %`;
const secs = (ms: number | null) => (ms === null ? "–" : `${(ms / 1000).toFixed(1)} s`);
const rate = (r: number | null) => (r === null ? "–" : `${n(Math.round(r))} events/s`);

/** The chaos run's report as text: settings, counts, invariants, timing, verdict. */
export function formatReport(r: ChaosReport): string {
  const o = r.options;
  const inv = r.invariants;
  const f = o.faults;
  const w = o.worker;
  const main = r.phases.find((p) => p.name === "main");
  const clean = r.phases.find((p) => p.name === "clean");
  const pairsOver = inv.totalsMismatch.filter((m) => m.detail.includes("over")).length;
  const pairsUnder = inv.totalsMismatch.length - pairsOver;
  const pending = inv.byStatus.pending ?? 0;
  const lines = [
    "Meterline chaos run",
    "",
    "Settings",
    `  events                 ${n(o.events)} main (poison ${pct(o.poisonRate)}) + ${n(o.cleanEvents)} clean`,
    `  workers                ${o.workers} processes, ${o.customers} customers × 2 meters`,
    `  kills                  a random running worker SIGKILLed every ${secs(o.killEveryMs)}${o.maxKills === null ? "" : ` (at most ${o.maxKills})`}, restarted at once`,
    `  freezes                ${o.freezeEveryMs > 0 ? `a random worker SIGSTOPped for ${secs(o.freezeForMs)}, then SIGCONTed, ${secs(o.freezeEveryMs)} apart${o.maxFreezes === null ? "" : ` (at most ${o.maxFreezes})`}` : "none"}`,
    `  key revocation         ${o.revokeForMs > 0 ? `${secs(o.revokeForMs)}, ${secs(o.revokeAtMs)} into the main phase` : "none"}`,
    `  emulator faults        500 ${pct(f.p500)}, ambiguous ${pct(f.pAmbiguous)}, 429 ${pct(f.p429)}, timeout ${pct(f.pTimeout)}, latency ${f.latencyMs} ± ${f.jitterMs} ms`,
    `  worker timings         lease ${w.leaseMs} ms, poll ${w.pollMs} ms, backoff ${w.backoffBaseMs}–${w.backoffMaxMs} ms, halt probe ${w.haltProbeMs} ms, request timeout ${w.requestTimeoutMs} ms`,
    `  database               ${r.database.kept ? `kept: ${r.database.url}` : `${r.database.name} (dropped)`}`,
    ...(o.logFile ? [`  worker output          ${o.logFile}`] : []),
    "",
    "Outcome",
    `  events                 ${n(inv.events)}`,
    `  reported               ${n(inv.byStatus.reported ?? 0)}`,
    `  failed                 ${n(inv.byStatus.failed ?? 0)}${Object.keys(inv.failedByCode).length ? ` (${describeCounts(inv.failedByCode)})` : ""}`,
    `  pending / discarded    ${n(pending)} / ${n(inv.byStatus.discarded ?? 0)}`,
    `  Stripe ledger          ${n(inv.ledger.events)} meter events accepted, ${n(inv.ledger.counted)} counted`,
    `  attempts               ${describeCounts(r.attempts) || "none"}`,
    "",
    "Invariants (design.md §5)",
    `  lost                   ${n(inv.lost.length)}${pairsUnder ? ` (+ ${pairsUnder} customer × meter totals under)` : ""}   must be 0: not final, or reported but not in the ledger`,
    `  double-counted         ${n(inv.doubleCounted.length)}${pairsOver ? ` (+ ${pairsOver} customer × meter totals over)` : ""}   must be 0: a Stripe total above the reported sum, an identifier counted twice`,
    `  wrongly failed         ${n(inv.wronglyFailed.length)}   must be 0: healthy events dead-lettered (§5.3)`,
    `  bad dead letters       ${n(inv.badDeadLetters.length)}   must be 0: failed without code and message, or on a 401/403`,
    `  late sends             ${n(inv.lateSends.length)}   must be 0: sent after the dedup window (§5.5; the run is far shorter than 23 h)`,
    `  stale settles          ${n(inv.staleSettles.length)}   must be 0: an outcome written by a worker after another had taken the event over (§4 settle guard)`,
    `  poison failed with a reason: ${inv.poison.allFailedWithReason ? "yes" : "NO"} (${n(inv.poison.total)} events)`,
    ...Object.entries(inv.poison.byKind).map(
      ([kind, k]) =>
        `    ${kind.padEnd(21)}${k.failedWithReason}/${k.total} failed with a reason: ${describeCounts(k.codes)}`,
    ),
    "  §5.4 (a poison event delays the others by one claim cycle at most): see throughput below",
    "  §5.6 (accepted only once durable): not exercised, events are written straight into the table",
    "",
    "Timing",
    ...r.phases.map(phaseLine),
    ...poisonCost(main, clean),
    `  key revocation         ${revokeLine(r)}`,
    `  kills                  ${r.rescue.kills}; ${r.rescue.killsHolding} held live leases on ${n(r.rescue.held)} events${r.rescue.neverFinal ? ` (${r.rescue.neverFinal} never final)` : ""}`,
    `  longest wait of a killed worker's event, kill → reported_at (failed_at for poison): ${secs(r.rescue.maxUntilFinalMs)} (median ${secs(r.rescue.medianUntilFinalMs)}; kills outside the revocation: ${secs(r.rescue.maxUntilFinalOutsideRevokeMs)})`,
    `  longest time from a kill to the first send of a held event again: ${secs(r.rescue.maxUntilResentMs)}; for events held by one killed worker, outside the revocation: ${secs(r.rescue.maxUntilResentOnceMs)} (lease + poll = ${secs(w.leaseMs + w.pollMs)})`,
    `  events held by two or more killed workers (crash suspects): ${n(r.rescue.heldRepeatedly)}; longest from their last kill to final: ${secs(r.rescue.maxUntilFinalRepeatedlyMs)}`,
    ...(r.rescue.slowest
      ? [
          `  slowest                ${r.rescue.slowest.eventId.slice(0, 60)}, held by ${r.rescue.slowest.workerId} (held at ${r.rescue.slowest.kills} kill${r.rescue.slowest.kills === 1 ? "" : "s"}), killed ${secs(r.rescue.slowest.killAtMs - (main?.startMs ?? 0))} into the main phase`,
        ]
      : []),
    `  freezes                ${r.freezes.count}; the frozen workers held ${n(r.freezes.held)} live leases, ${n(r.freezes.takenOver)} of them taken over by another worker during the freeze; outcomes the settle guard refused afterwards (lease_lost rows): ${n(r.attempts.lease_lost ?? 0)}`,
    `  total run time         ${secs(r.totalMs)} (set-up, both phases, checks)`,
    "  throughput: events reaching a final state per second. overall = events / drain time;",
    "  steady = 80 % of the phase's events / the time between 10 % and 90 % of them being final,",
    "  minus the key revocation (+ one halt probe). Both phases have the same faults and kills;",
    "  the clean phase has no poison and no revocation.",
    ...(r.warnings.length ? ["", "Warnings", ...r.warnings.map((x) => `  - ${x}`)] : []),
    "",
    r.violations.length === 0
      ? "Result: PASS, every invariant holds"
      : `Result: FAIL, ${r.violations.length} violation${r.violations.length === 1 ? "" : "s"}:`,
    ...r.violations.map((v) => `  - ${v}`),
  ];
  return `${lines.join("\n")}\n`;
}

function phaseLine(p: PhaseResult): string {
  const t = p.throughput;
  const span = t.steadySpan
    ? ` over ${secs(t.steadySpan.toMs - t.steadySpan.fromMs)}${t.steadySpan.excludedMs ? `, ${secs(t.steadySpan.excludedMs)} of revocation excluded` : ""}`
    : "";
  const what = `${p.name} phase (${n(p.events)} events, ${n(p.poison)} poison)`;
  return `  ${what.padEnd(46)}drain ${secs(t.drainMs)}${p.drained ? "" : " (NOT drained)"} incl. insert ${secs(p.insertMs)}; overall ${rate(t.overallPerSec)}; steady ${rate(t.steadyPerSec)}${span}`;
}

function poisonCost(main: PhaseResult | undefined, clean: PhaseResult | undefined): string[] {
  const withPoison = main?.throughput.steadyPerSec ?? null;
  const without = clean?.throughput.steadyPerSec ?? null;
  if (withPoison === null || without === null) return [];
  return [`  with poison / without  ${pct(withPoison / without)} (steady rates of the two phases)`];
}

function revokeLine(r: ChaosReport): string {
  const main = r.phases.find((p) => p.name === "main");
  if (!r.revoke || !main) return "none";
  const end =
    r.revoke.toMs === null ? "never restored" : `for ${secs(r.revoke.toMs - r.revoke.fromMs)}`;
  return `revoked ${secs(r.revoke.fromMs - main.startMs)} into the main phase, ${end}`;
}
