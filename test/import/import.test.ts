import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MeterlineClient } from "../../src/cli/api-client.ts";
import { renderImport } from "../../src/cli/import.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { parseCsvLine } from "../../src/import/csv.ts";
import { buildMapping, rowToEvent } from "../../src/import/mapping.ts";
import { runImport } from "../../src/import/run-import.ts";
import { startApi, type TestApi } from "../api/harness.ts";
import { backends } from "../support/db.ts";

describe("import's line rules", () => {
  it("reads CSV fields: quotes, doubled quotes, commas inside quotes, empty cells; an open quote is refused", () => {
    expect(parseCsvLine("a,b,,d")).toEqual(["a", "b", "", "d"]);
    expect(parseCsvLine('"acme, inc",3,"say ""hi"""')).toEqual(["acme, inc", "3", 'say "hi"']);
    expect(parseCsvLine('"unclosed,3')).toBeNull();
    expect(parseCsvLine('"a"b,3')).toBeNull();
    expect(parseCsvLine("")).toEqual([""]);
  });

  it("maps columns to fields, a constant event name, and makes ids from the file for lines without one", () => {
    const mapping = buildMapping("customer=account,value=units", "api_calls");
    expect(rowToEvent({ account: "acme", units: "12", ts: "" }, mapping, 7, "imp-x", true)).toEqual(
      {
        id: "imp-x-7",
        customer: "acme",
        event_name: "api_calls",
        value: 12,
      },
    );
    // NDJSON values stay as they are: the server's rules judge "12" (a string) as they would.
    const plain = buildMapping(undefined, undefined);
    expect(
      rowToEvent(
        { id: "e1", customer: "acme", event_name: "x", value: "12" },
        plain,
        1,
        "p",
        false,
      ),
    ).toEqual({ id: "e1", customer: "acme", event_name: "x", value: "12" });
    expect(() => buildMapping("cost=price", undefined)).toThrow(/"cost" is not an event field/);
    expect(() => buildMapping("customer", undefined)).toThrow(/must be field=column/);
  });

  it("summarizes by line, each refused line with its message and code", () => {
    const text = renderImport(
      "f.ndjson",
      {
        lines: 3,
        events: 2,
        accepted: 1,
        duplicates: 1,
        refused: 1,
        errors: [
          {
            line: 2,
            field: "value",
            code: "invalid_value",
            message: "value must be a whole number",
          },
        ],
        unknown: [],
        seconds: 2,
      },
      false,
    );
    expect(text).toContain(
      "Imported f.ndjson: 3 lines, 1 events stored, 1 already stored, 1 lines refused",
    );
    expect(text).toContain("  line 2: value must be a whole number [invalid_value]");
  });
});

describe.each(backends)("meterline import against the real API, on %s", (kind) => {
  let api: TestApi;
  let client: MeterlineClient;
  let dir: string;
  beforeAll(async () => {
    api = await startApi(kind);
    await api.db.insert(customers).values([{ key: "acme" }, { key: "globex" }]);
    await api.db.insert(meters).values({ eventName: "api_calls" });
    client = new MeterlineClient(
      await api.app.listen({ port: 0, host: "127.0.0.1" }),
      api.adminKey,
    );
    dir = mkdtempSync(join(tmpdir(), "meterline-import-"));
  });
  afterAll(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const file = (name: string, lines: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join("\n")}\n`);
    return path;
  };
  const stored = async (prefix: string) =>
    (
      await rows<{ n: number; total: number }>(
        api.db,
        sql`select count(*)::int as n, coalesce(sum(value), 0)::int as total
              from usage_events where id like ${`${prefix}%`}`,
      )
    )[0];
  const options = (path: string, format: "ndjson" | "csv" = "ndjson") => ({
    file: path,
    format,
    mapping: buildMapping(undefined, undefined),
    dryRun: false,
    batchSize: 100,
    concurrency: 3,
    idPrefix: "t",
  });

  it("stores every good line, refuses bad ones by line without losing their batch, and a re-run stores nothing twice", async () => {
    const lines = Array.from({ length: 450 }, (_, i) =>
      JSON.stringify({
        id: `nd-${i}`,
        customer: i % 2 ? "acme" : "globex",
        event_name: "api_calls",
        value: 2,
      }),
    );
    lines[9] = "{not json"; // line 10
    lines[149] = JSON.stringify({
      id: "nd-149",
      customer: "nobody",
      event_name: "api_calls",
      value: 2,
    }); // line 150
    lines[299] = JSON.stringify({
      id: "nd-299",
      customer: "acme",
      event_name: "api_calls",
      value: -1,
    }); // line 300
    const path = file("events.ndjson", lines);

    const dry = await runImport(client, { ...options(path), dryRun: true });
    expect(await stored("nd-")).toEqual({ n: 0, total: 0 });
    expect(dry).toMatchObject({ lines: 450, events: 448, refused: 2 });
    expect(dry.errors.map((e) => [e.line, e.code])).toEqual([
      [10, "invalid_json"],
      [300, "invalid_value"],
    ]);
    expect(dry.unknown).toEqual([
      { kind: "customer", name: "nobody", why: "does not exist", firstLine: 150, events: 1 },
    ]);

    const first = await runImport(client, options(path));
    expect(first).toMatchObject({ lines: 450, accepted: 447, duplicates: 0, refused: 3 });
    expect(
      first.errors
        .map((e) => [e.line, e.field, e.code])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
    ).toEqual([
      [10, "line", "invalid_json"],
      [150, "customer", "unknown_customer"],
      [300, "value", "invalid_value"],
    ]);
    expect(await stored("nd-")).toEqual({ n: 447, total: 894 });

    const again = await runImport(client, options(path));
    expect(again).toMatchObject({ accepted: 0, duplicates: 447, refused: 3 });
    expect(await stored("nd-")).toEqual({ n: 447, total: 894 });
  });

  it("imports CSV with a column mapping and a constant event name; lines without ids get the same ids on every run", async () => {
    const path = file("usage.csv", [
      "account,units,ts",
      "acme,3,1796150000",
      '"globex",4,',
      "acme,5,2026-11-30T10:00:00Z",
    ]);
    const csv = {
      ...options(path, "csv"),
      mapping: buildMapping("customer=account,value=units,timestamp=ts", "api_calls"),
      idPrefix: "csv",
    };
    expect(await runImport(client, csv)).toMatchObject({ lines: 3, accepted: 3, refused: 0 });
    expect(await runImport(client, csv)).toMatchObject({ accepted: 0, duplicates: 3 });
    const [line2] = await rows<{ id: string; occurred_at: string }>(
      api.db,
      sql`select id, occurred_at::text from usage_events where id = 'csv-2'`,
    );
    expect(line2?.occurred_at).toMatch(/^2026-12-01 18:33:20/);
    expect(await stored("csv-")).toEqual({ n: 3, total: 12 });
  });
});
