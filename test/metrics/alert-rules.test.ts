import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasPrometheus } from "../support/prometheus.ts";

const DIR = join(import.meta.dirname, "../../deploy/prometheus");
const RULES = readFileSync(join(DIR, "alerts.yml"), "utf8");
const TESTS = readFileSync(join(DIR, "alerts.test.yml"), "utf8");
const RUNBOOK = readFileSync(join(import.meta.dirname, "../../docs/runbook.md"), "utf8");
const ALERTS = [...RULES.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1] ?? "");

function promtool(...args: string[]) {
  const run = spawnSync("promtool", args, { encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("the alert rules and their runbook", () => {
  it("every alert has a runbook section, points at it, and has a promtool test", () => {
    expect(ALERTS.length).toBeGreaterThanOrEqual(8);
    for (const alert of ALERTS) {
      expect(RUNBOOK, alert).toContain(`\n## ${alert}\n`);
      expect(RULES, alert).toContain(`runbook: docs/runbook.md#${alert.toLowerCase()}`);
      expect(TESTS, alert).toContain(`alertname: ${alert}\n`);
    }
  });
});

// Needs Debian's prometheus package (promtool): .ci/run installs it; see test/support/prometheus.ts.
describe.skipIf(!hasPrometheus())("the alert rules, through promtool", () => {
  it("are valid rules", () => {
    const run = promtool("check", "rules", join(DIR, "alerts.yml"));
    expect(run.output).toContain(`SUCCESS: ${ALERTS.length} rules found`);
    expect(run.status).toBe(0);
  });

  it("pass their unit tests (promtool test rules): each fires when it should, and only then", () => {
    const run = promtool("test", "rules", join(DIR, "alerts.test.yml"));
    expect(run.output).toContain("SUCCESS");
    expect(run.status).toBe(0);
  });

  // The unit tests bite: a rule with its threshold or its hold changed fails them.
  it.each([
    [
      "the lag threshold",
      "max(meterline_oldest_due_age_seconds) > 300",
      "max(meterline_oldest_due_age_seconds) > 3000",
    ],
    ["the throttled share", "[5m])) > 0.05", "[5m])) > 0.5"],
    [
      "the circuit's grace",
      "(meterline_circuit_open_seconds) > 120",
      "(meterline_circuit_open_seconds) > 12",
    ],
    [
      "a hold",
      "max(meterline_queue_snapshot_up) == 1\n        for: 5m",
      "max(meterline_queue_snapshot_up) == 1\n        for: 1m",
    ],
    [
      "the drift threshold",
      'max(meterline_reconciliation_drift_groups{result="finished"}) > 0',
      'max(meterline_reconciliation_drift_groups{result="finished"}) > 5',
    ],
    [
      "the guard on a failed read",
      "== 0 and on() max(meterline_queue_snapshot_up) == 1",
      "== 0 and on() max(meterline_queue_snapshot_up) >= 0",
    ],
  ])("fail when %s is changed", (_what, from, to) => {
    expect(RULES).toContain(from);
    const dir = mkdtempSync(join(tmpdir(), "meterline-rules-"));
    try {
      writeFileSync(join(dir, "alerts.yml"), RULES.replace(from, to));
      copyFileSync(join(DIR, "alerts.test.yml"), join(dir, "alerts.test.yml"));
      const run = promtool("test", "rules", join(dir, "alerts.test.yml"));
      expect(run.output).toContain("FAILED");
      expect(run.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
