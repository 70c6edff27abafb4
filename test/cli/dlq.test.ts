import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi, type TestApi } from "../api/harness.ts";
import { eventRow, insertEvent } from "../ops/dead-letters-fixtures.ts";
import { type MeterlineRun, runMeterline } from "../support/start-env.ts";

// The operator commands as a person runs them: real processes talking HTTP to a running API
// (an app on a fresh PGlite, on a free port). Each spawn costs about a second: few of them.
const dataDir = mkdtempSync(join(tmpdir(), "meterline-dlq-"));
let api: TestApi;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  api = await startApi("pglite");
  await api.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = api.app.server.address() as AddressInfo;
  env = {
    ...process.env,
    METERLINE_API_URL: `http://127.0.0.1:${port}`,
    METERLINE_API_KEY: api.adminKey,
    // An empty data folder: no runtime.json to fall back on.
    METERLINE_DATA_DIR: dataDir,
  };
  await insertEvent(api.db, "gone-1", { failedHoursAgo: 2, customerKey: "gone" });
  await insertEvent(api.db, "old-1", { failedHoursAgo: 1, lastErrorCode: "timestamp_too_old" });
});

afterAll(async () => {
  await api?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function meterline(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<MeterlineRun> {
  return runMeterline(args, { ...env, ...extraEnv });
}

describe("meterline dlq, trace, stats", () => {
  it("dlq retry --dry-run warns when the cause is still there (no such customer)", async () => {
    const { code, out, err } = await meterline(["dlq", "retry", "--dry-run", "--customer", "gone"]);
    expect(code, err).toBe(0);
    expect(out).toContain("Dry run: would retry 1 of 1");
    expect(err).toContain(
      "Warning: 1 of them would fail again at once, their cause is still there: 1 customer_not_found (the customer is still missing: create it first).",
    );
  });

  it("dlq list --json filters and counts", async () => {
    const { code, out, err } = await meterline(["dlq", "list", "--json", "--customer", "gone"]);
    expect(code, err).toBe(0);
    const body = JSON.parse(out);
    expect(body.matched).toBe(1);
    expect(body.data[0]).toMatchObject({ id: "gone-1", error: { code: "customer_deleted" } });
  });

  it("dlq list shows a table with the reasons", async () => {
    const { code, out } = await meterline(["dlq", "list"]);
    expect(code).toBe(0);
    expect(out).toMatch(/^ID\s+FAILED\s+CODE\s+CUSTOMER\s+METER\s+ATT\s+REASON/);
    expect(out).toMatch(/old-1\s+\d+m ago\s+timestamp_too_old/);
    expect(out).toContain("2 of 2 matching dead letters.");
    expect(out).toContain('customer_deleted (e.g. gone-1):\n    customer "acme" was deleted');
  });

  it("dlq retry --dry-run changes nothing; dlq retry moves it back to the queue", async () => {
    const dry = await meterline(["dlq", "retry", "--code", "customer_deleted", "--dry-run"]);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain("Dry run: would retry 1 of 1 matching dead letters: gone-1.");
    expect((await eventRow(api.db, "gone-1"))?.status).toBe("failed");

    const run = await meterline(["dlq", "retry", "gone-1", "nope", "--note", "restored"]);
    // Exit 1: "nope" was asked for and is not a dead letter.
    expect(run.code).toBe(1);
    expect(run.out).toContain("Retried 1 of 1 matching dead letters: gone-1");
    expect(run.out).toContain("left alone: nope");
    expect(await eventRow(api.db, "gone-1")).toMatchObject({ status: "pending", attempts: 0 });
  });

  it("trace shows the event and the operator's retry", async () => {
    const { code, out, err } = await meterline(["trace", "gone-1"]);
    expect(code, err).toBe(0);
    expect(out).toContain("Event gone-1: pending");
    expect(out).toMatch(/#0 {2}operator {2}operator_retry/);
    expect(out).toContain('retried by key "test admin"');
  });

  it("a bad filter is a usage error (exit 2) naming the flag and the rule", async () => {
    const { code, err } = await meterline(["dlq", "discard", "--older-than", "1hour"]);
    expect(code).toBe(2);
    expect(err).toContain("--older-than must be a duration like 30m, 2h or 7d");
  });

  it("without an API to talk to, says how to give one (exit 2)", async () => {
    const { code, err } = await meterline(["stats"], {
      METERLINE_API_URL: "",
      METERLINE_API_KEY: "",
    });
    expect(code).toBe(2);
    expect(err).toContain("set METERLINE_API_URL and METERLINE_API_KEY");
    expect(err).toContain("runtime.json");
  });
});
