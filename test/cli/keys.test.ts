import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expiryOf, keyTable } from "../../src/cli/keys.ts";
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

describe("keys list", () => {
  it("a table with headers, times in UTC; an empty list says how to create a key", () => {
    const base = {
      prefix: "ml_abcdefg",
      created_at: "2026-12-01T12:00:00.000Z",
      expires_at: null,
      revoked_at: null,
    };
    const table = keyTable([
      { ...base, id: 1, name: "dev", role: "admin", status: "active" },
      {
        ...base,
        id: 12,
        name: "old",
        role: "ingest",
        status: "revoked",
        revoked_at: "2026-12-02T08:30:00.000Z",
      },
      {
        ...base,
        id: 13,
        name: "ci",
        role: "ingest",
        status: "expired",
        expires_at: "2026-12-03T00:00:00.000Z",
      },
    ]);
    expect(table.split("\n")).toEqual([
      "ID  NAME  ROLE    PREFIX       STATUS                    CREATED (UTC)     EXPIRES (UTC)",
      "1   dev   admin   ml_abcdefg…  active                    2026-12-01 12:00  never",
      "12  old   ingest  ml_abcdefg…  revoked 2026-12-02 08:30  2026-12-01 12:00  never",
      "13  ci    ingest  ml_abcdefg…  expired                   2026-12-01 12:00  2026-12-03 00:00",
      "",
    ]);
    expect(keyTable([])).toContain("meterline keys create");
  });

  it("prints the table, and with --json the API's snake_case document", async () => {
    const created = await keys(["create", "--name", "listed", "--role", "admin", "--json"]);
    expect(created.code, created.err).toBe(0);
    const { secret, ...key } = JSON.parse(created.out);
    const json = await keys(["list", "--json"]);
    expect(json.code, json.err).toBe(0);
    const listed = JSON.parse(json.out);
    expect(listed.data).toContainEqual(key);
    expect(json.out).not.toContain(secret);
    const table = await keys(["list"]);
    expect(table.code, table.err).toBe(0);
    const [head, ...rows] = table.out.trimEnd().split("\n");
    expect(head).toMatch(
      /^ID\s+NAME\s+ROLE\s+PREFIX\s+STATUS\s+CREATED \(UTC\)\s+EXPIRES \(UTC\)$/,
    );
    expect(rows.some((r) => r.includes("listed") && r.includes(`${key.prefix}…`))).toBe(true);
  });
});
