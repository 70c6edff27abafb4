import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi, type TestApi } from "../api/harness.ts";
import { auditRows, eventRow, insertEvent } from "../ops/dead-letters-fixtures.ts";
import { type MeterlineRun, runMeterline } from "../support/start-env.ts";

// `meterline cancel` as a person runs it: a real process talking HTTP to a running API (an app
// on a fresh PGlite, on a free port). Each spawn costs about a second: few of them.
const dataDir = mkdtempSync(join(tmpdir(), "meterline-cancel-"));
let api: TestApi;
let env: NodeJS.ProcessEnv;

/** A pending event written straight into the outbox. */
function insertPending(id: string, over: Parameters<typeof insertEvent>[2] = {}): Promise<void> {
  return insertEvent(api.db, id, {
    status: "pending",
    attempts: 0,
    claims: 0,
    lastErrorCode: null,
    lastErrorMessage: null,
    lastHttpStatus: null,
    failedAt: null,
    occurredAt: new Date(),
    ...over,
  });
}

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
  // What ingest used to accept with 202: an event dated 2100, waiting until then.
  await insertPending("far-1", {
    occurredAt: new Date("2100-01-01T00:00:00Z"),
    waitReason: "timestamp_in_future",
  });
  await insertPending("far-2", {
    occurredAt: new Date("2100-06-01T00:00:00Z"),
    waitReason: "timestamp_in_future",
  });
  await insertPending("due-1");
  await insertEvent(api.db, "dead-1");
});

afterAll(async () => {
  await api?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function meterline(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<MeterlineRun> {
  return runMeterline(args, { ...env, ...extraEnv });
}

describe("meterline cancel", () => {
  it("pending events can be cancelled with a reason (a far-future event no longer waits forever)", async () => {
    const dry = await meterline([
      "cancel",
      "--wait-reason",
      "timestamp_in_future",
      "--reason",
      "clock bug",
      "--dry-run",
    ]);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain(
      "Dry run: would cancel 2 of 2 matching pending events: far-1, far-2.",
    );
    expect(dry.out).toContain("Nothing was changed.");
    expect((await eventRow(api.db, "far-1"))?.status).toBe("pending");

    const run = await meterline(["cancel", "far-1", "--reason", "producer clock bug: dated 2100"]);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain("Cancelled 1 of 1 matching pending events: far-1");
    expect(await eventRow(api.db, "far-1")).toMatchObject({
      status: "discarded",
      lastErrorCode: "cancelled",
    });
    expect((await auditRows(api.db, "far-1"))[0]?.message).toContain(
      "producer clock bug: dated 2100",
    );

    // The trace shows the cancel, who did it and why.
    const trace = await meterline(["trace", "far-1"]);
    expect(trace.code, trace.err).toBe(0);
    expect(trace.out).toContain("Event far-1: discarded");
    expect(trace.out).toMatch(/#0 {2}test admin {2}operator_cancel/);
    expect(trace.out).toContain("producer clock bug: dated 2100");
  });

  it("--json prints the API's answer; filters select", async () => {
    const { code, out, err } = await meterline([
      "cancel",
      "--wait-reason",
      "timestamp_in_future",
      "--reason",
      "clock bug",
      "--json",
    ]);
    expect(code, err).toBe(0);
    expect(JSON.parse(out)).toMatchObject({
      action: "cancel",
      matched: 1,
      changed: 1,
      ids: ["far-2"],
    });
    expect((await eventRow(api.db, "due-1"))?.status).toBe("pending");
  });

  it("a named event that is not pending: exit 1 with the API's reason, nothing changed", async () => {
    const { code, err } = await meterline(["cancel", "due-1", "dead-1", "--reason", "x"]);
    expect(code).toBe(1);
    expect(err).toContain("[409 event_not_pending]");
    expect(err).toContain("dead-1 (failed)");
    expect((await eventRow(api.db, "due-1"))?.status).toBe("pending");
  });

  it("usage errors exit 2 naming the flag: no --reason, a bad filter, no target", async () => {
    const noReason = await meterline(["cancel", "due-1"]);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toContain("--reason is required");

    const badAge = await meterline(["cancel", "--older-than", "1hour", "--reason", "x"]);
    expect(badAge.code).toBe(2);
    expect(badAge.err).toContain("--older-than must be a duration like 30m, 2h or 7d");

    const nothing = await meterline(["cancel", "--reason", "x"]);
    expect(nothing.code).toBe(2);
    expect(nothing.err).toContain("give event ids, or filters");
    expect((await eventRow(api.db, "due-1"))?.status).toBe("pending");
  });

  it("--help explains it", async () => {
    const { code, out } = await meterline(["cancel", "--help"]);
    expect(code).toBe(0);
    expect(out).toContain("Usage: meterline cancel (IDS… | filters) --reason TEXT");
    expect(out).toContain("--wait-reason");
  });
});
