import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expiryOf } from "../../src/cli/keys.ts";
import { runMeterline, startEnv } from "../support/start-env.ts";

// `meterline keys` as a person runs it: the built CLI on an embedded database of its own.
const dataDir = mkdtempSync(join(tmpdir(), "meterline-keys-"));
const env = startEnv(dataDir);
const keys = (args: string[]) => runMeterline(["keys", ...args], env);

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("keys create: expiry", () => {
  const now = new Date("2026-12-01T12:00:00Z");

  it("--expires-in counts days or hours from now; --expires-at is taken as given", () => {
    expect(expiryOf({ "expires-in": "30d" }, now)?.toISOString()).toBe("2026-12-31T12:00:00.000Z");
    expect(expiryOf({ "expires-in": "12h" }, now)?.toISOString()).toBe("2026-12-02T00:00:00.000Z");
    expect(expiryOf({ "expires-at": "2027-01-31T00:00:00Z" }, now)?.toISOString()).toBe(
      "2027-01-31T00:00:00.000Z",
    );
    expect(expiryOf({}, now)).toBeNull();
    expect(() =>
      expiryOf({ "expires-in": "1d", "expires-at": "2027-01-31T00:00:00Z" }, now),
    ).toThrow("not both");
  });

  it("a bad expiry flag stops with its name and the rule, exit 2", async () => {
    const cases: Array<[string[], string]> = [
      [["--expires-in", "30"], "--expires-in: must be a number of days or hours"],
      [["--expires-at", "2001-01-01T00:00:00Z"], "--expires-at: must be in the future"],
      [["--expires-at", "soon"], "--expires-at: must be an ISO 8601 date-time"],
    ];
    for (const [flags, message] of cases) {
      const run = await keys(["create", "--name", "x", "--role", "admin", ...flags]);
      expect(run.code, run.err).toBe(2);
      expect(run.err).toContain(message);
    }
  });

  it("create --expires-in 30d --json answers like the API, and the key expires in 30 days", async () => {
    const run = await keys([
      "create",
      "--name",
      "ci",
      "--role",
      "ingest",
      "--expires-in",
      "30d",
      "--json",
    ]);
    expect(run.code, run.err).toBe(0);
    const key = JSON.parse(run.out);
    expect(key).toMatchObject({ name: "ci", role: "ingest", status: "active", revoked_at: null });
    expect(key.secret).toMatch(/^ml_/);
    const days = (Date.parse(key.expires_at) - Date.parse(key.created_at)) / 86_400_000;
    expect(days).toBeCloseTo(30, 2);
  });
});
