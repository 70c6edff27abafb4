import type { ChaosReport, PhaseResult } from "./assemble.ts";
import { describeCounts } from "./findings.ts";
import { INVARIANTS, type InvariantName } from "./invariants.ts";
import { SCENARIOS, type ScenarioName } from "./scenarios.ts";

const n = (x: number) => x.toLocaleString("en-US");
const pct = (p: number) => `${Math.round(p * 1000) / 10} %`;
const secs = (ms: number | null) => (ms === null ? "–" : `${(ms / 1000).toFixed(1)} s`);
const rate = (r: number | null) => (r === null ? "–" : `${n(Math.round(r))} events/s`);

/** The chaos run's report as text: settings, scenarios, invariants, timing, verdict. */
export function formatReport(r: ChaosReport): string {
  const o = r.options;
  const inv = r.invariants;
  const f = o.faults;
  const w = o.worker;
  const main = r.phases.find((p) => p.name === "main");
  const clean = r.phases.find((p) => p.name === "clean");
  const a = r.figures.asyncReports;
  const lines = [
    "Meterline chaos run",
    "",
    "Settings",
    `  events                 main ${n(o.events)} into the outbox + ${n(o.httpEvents)} through the API; storm ${n(o.stormEvents)}; wrong account ${n(o.wrongAccountEvents)}; clean ${n(o.cleanEvents)}`,
    `  poison                 pre-flight kinds ${pct(o.poisonRate)}, deleted in Stripe ${pct(o.asyncRate)}, item gone ${pct(o.itemGoneRate)}`,
    `  workers                ${o.workers} processes, ${o.customers} customers × 6 meters (2 per mode: v1, stream, usage records); API: meterline serve`,
    `  kills                  a random running worker SIGKILLed every ${secs(o.killEveryMs)}${o.maxKills === null ? "" : ` (at most ${o.maxKills})`}, restarted at once`,
    `  freezes                ${o.freezeEveryMs > 0 ? `a random worker SIGSTOPped for ${secs(o.freezeForMs)}, then SIGCONTed, ${secs(o.freezeEveryMs)} apart` : "none"}`,
    `  key revocation         ${o.revokeForMs > 0 ? `${secs(o.revokeForMs)}, ${secs(o.revokeAtMs)} into the main phase` : "none"}`,
    `  clock jump             ${o.jumpAtMs > 0 ? `${o.jumpHours} h, ${secs(o.jumpAtMs)} into the main phase` : "none"}`,
    `  emulator faults        500 ${pct(f.p500)}, ambiguous ${pct(f.pAmbiguous)}, 429 ${pct(f.p429)}, timeout ${pct(f.pTimeout)}, latency ${f.latencyMs} ± ${f.jitterMs} ms; usage records: 500 ${pct(f.urP500)}, ambiguous ${pct(f.urAmbiguous)}`,
    `  worker timings         lease ${w.leaseMs} ms, poll ${w.pollMs} ms, backoff ${w.backoffBaseMs}–${w.backoffMaxMs} ms, halt probe ${w.haltProbeMs} ms, request timeout ${w.requestTimeoutMs} ms`,
    `  database               ${r.database.kept ? `kept: ${r.database.url}` : `${r.database.name} (dropped)`}`,
    ...(o.logFile ? [`  child output           ${o.logFile}`] : []),
    "",
    "Outcome",
    `  events                 ${n(inv.events)}: ${describeCounts(inv.byStatus)}`,
    `  failed by code         ${describeCounts(inv.failedByCode) || "none"}`,
    `  Stripe ledger          ${n(inv.ledger.meterEvents)} meter events accepted, ${n(inv.ledger.counted)} counted; ${n(inv.ledger.usageRecords)} usage records`,
    `  requests logged        ${n(r.figures.requests.total)} (${describeCounts(r.figures.requests.byGroup)}); ${n(r.figures.requests.unanswered)} never answered`,
    `  attempts               ${describeCounts(r.attempts) || "none"}`,
    `  error reports          ${a.reports} delivered, naming ${a.named} rejections (${a.whilePending} while pending, ${a.afterReported} after reported); ${a.unnamed} unnamed; ${a.redelivered} delivered again after the API refused them`,
    `  operator               ${r.figures.reconciliation.examined} dead letters to look up in Stripe, ${r.figures.reconciliation.resolved} resolved as delivered`,
    `  ingest                 ${n(r.figures.http.accepted)}/${n(r.figures.http.sent)} good events accepted; bad batches: ${r.figures.badBatches.map((b) => `${b.name} ${b.status}${b.stored ? ` (${b.stored} stored!)` : ""}`).join(", ")}`,
    ...r.jumps.map(
      (j) =>
        `  clock jump             Stripe ${new Date(j.stripeFromMs).toISOString()} → ${new Date(j.stripeToMs).toISOString()}; ${j.killed} workers killed, holding ${j.killedHeld} live leases; ${j.chosen} waiting events moved back (${j.neverAnswered} never answered, ${j.heldByStripe} already applied by Stripe)`,
    ),
    ...r.phases
      .filter((p) => p.halt)
      .map(
        (p) =>
          `  ${`${p.name} halt`.padEnd(23)}${p.halt?.scope} opened ${secs(p.halt?.afterMs ?? 0)} into the phase`,
      ),
    `  poison                 ${n(inv.poison.total)} events: ${Object.entries(inv.poison.byKind)
      .map(([kind, k]) => `${kind} ${k.asExpected}/${k.total}`)
      .join(", ")}`,
    "",
    "Scenarios (each must have happened)",
    ...(Object.keys(SCENARIOS) as ScenarioName[]).map(
      (s) => `  ${s.padEnd(32)}${String(r.scenarios[s]).padStart(7)}   ${SCENARIOS[s]}`,
    ),
    "",
    "Invariants (each must have no violation; from Stripe's ledger and request log)",
    ...(Object.keys(INVARIANTS) as InvariantName[]).map(
      (i) => `  ${i.padEnd(36)}${String(inv.findings[i].length).padStart(5)}   ${INVARIANTS[i]}`,
    ),
    "",
    "Timing",
    ...r.phases.map(phaseLine),
    ...poisonCost(main, clean),
    `  kills                  ${r.rescue.kills} random; ${r.rescue.killsHolding} held live leases on ${n(r.rescue.held)} events${r.rescue.neverFinal ? ` (${r.rescue.neverFinal} never final)` : ""}`,
    `  longest wait of a killed worker's event, kill → final: ${secs(r.rescue.maxUntilFinalMs)} (median ${secs(r.rescue.medianUntilFinalMs)})`,
    `  longest time from a kill to the first send of a held event again, held once, outside the revocation: ${secs(r.rescue.maxUntilResentOnceMs)} (lease + poll = ${secs(w.leaseMs + w.pollMs)})`,
    `  freezes                ${r.freezes.count}; the frozen workers held ${n(r.freezes.held)} live leases, ${n(r.freezes.takenOver)} taken over meanwhile; outcomes the settle guard refused (lease_lost rows): ${n(r.attempts.lease_lost ?? 0)}`,
    `  total run time         ${secs(r.totalMs)}`,
    ...(r.warnings.length ? ["", "Warnings", ...r.warnings.map((x) => `  - ${x}`)] : []),
    "",
    r.failures.length === 0
      ? "Result: PASS, every invariant holds and every scenario happened"
      : `Result: FAIL, ${r.failures.length} problem${r.failures.length === 1 ? "" : "s"}:`,
    ...r.failures.map((v) => `  - ${v}`),
  ];
  return `${lines.join("\n")}\n`;
}

function phaseLine(p: PhaseResult): string {
  const t = p.throughput;
  const what = `${p.name} phase (${n(p.events)} events, ${n(p.poison)} poison)`;
  return `  ${what.padEnd(46)}drain ${secs(t.drainMs)}${p.drained ? "" : " (NOT drained)"} incl. insert ${secs(p.insertMs)}; overall ${rate(t.overallPerSec)}; steady ${rate(t.steadyPerSec)}`;
}

function poisonCost(main: PhaseResult | undefined, clean: PhaseResult | undefined): string[] {
  const withPoison = main?.throughput.steadyPerSec ?? null;
  const without = clean?.throughput.steadyPerSec ?? null;
  if (withPoison === null || without === null) return [];
  return [`  with chaos / clean     ${pct(withPoison / without)} (steady rates of the two phases)`];
}

/** How many examples of each invariant's violations the JSON document carries. */
const EXAMPLES = 5;

/** The run as one JSON document: `invariants` and `scenarios` first, then the figures. */
export function jsonReport(r: ChaosReport): unknown {
  const invariants = Object.fromEntries(
    (Object.keys(INVARIANTS) as InvariantName[]).map((name) => {
      const found = r.invariants.findings[name];
      return [name, { violations: found.length, examples: found.slice(0, EXAMPLES) }];
    }),
  );
  return {
    passed: r.failures.length === 0,
    failures: r.failures,
    invariants,
    scenarios: r.scenarios,
    wall_ms: r.totalMs,
    outcome: {
      events: r.invariants.events,
      by_status: r.invariants.byStatus,
      failed_by_code: r.invariants.failedByCode,
      ledger: r.invariants.ledger,
      poison: r.invariants.poison,
      attempts: r.attempts,
    },
    phases: r.phases.map((p) => ({
      name: p.name,
      events: p.events,
      poison: p.poison,
      drained: p.drained,
      drain_ms: p.throughput.drainMs,
      steady_per_sec:
        p.throughput.steadyPerSec === null ? null : Math.round(p.throughput.steadyPerSec),
      halt: p.halt,
    })),
    jumps: r.jumps,
    revoke: r.revoke,
    rescue: r.rescue,
    freezes: r.freezes,
    figures: r.figures,
    warnings: r.warnings,
    unexpected_exits: r.unexpectedExits,
    options: r.options,
  };
}
