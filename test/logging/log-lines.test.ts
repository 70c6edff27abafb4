import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../../src/config.ts";
import type { Database } from "../../src/db/connect.ts";
import { buildApp } from "../../src/http/app.ts";
import { createLogger } from "../../src/logging/logger.ts";
import { prettyLine } from "../../src/logging/pretty.ts";
import { createApiKey } from "../../src/ops/api-keys.ts";
import { freshDatabase } from "../support/db.ts";

/** Every `"key":` in a JSON line, nested ones included: a repeated key shows up twice here. */
function keysInText(line: string): string[] {
  return [...line.matchAll(/"([^"\\]+)":/g)].map((m) => m[1] as string).sort();
}

/** The keys JSON.parse keeps (one per name), nested ones included. */
function keysParsed(value: unknown): string[] {
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value)
    .flatMap(([k, v]) => [k, ...keysParsed(v)])
    .sort();
}

/** A logger as `start` makes it, writing into an array. */
function captured(level: "info" | "debug", pretty = false) {
  const lines: string[] = [];
  const config = defaultConfig({ LOG_LEVEL: level, METERLINE_WORKER_ID: "host-1" });
  const logger = createLogger(config, { pretty, write: (line) => lines.push(line) });
  return { logger, lines };
}

describe("log lines", () => {
  let database: Database;
  let secret: string;
  beforeAll(async () => {
    database = await freshDatabase("pglite");
    secret = (await createApiKey(database.db, { name: "logs", role: "admin" })).secret;
  });
  afterAll(() => database?.close());

  async function requests(level: "info" | "debug"): Promise<string[]> {
    const { logger, lines } = captured(level);
    const app = await buildApp({
      db: database.db,
      config: defaultConfig(),
      loggerInstance: logger.child({ part: "api" }),
    });
    try {
      const auth = { authorization: `Bearer ${secret}` };
      await app.inject({ method: "GET", url: "/v1/meters", headers: auth });
      await app.inject({ method: "GET", url: "/v1/no-such-route", headers: auth });
    } finally {
      await app.close();
    }
    return lines;
  }

  it("one line per request at debug, each key once, the request id included", async () => {
    const lines = await requests("debug");
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.map((p) => [p.level, p.msg, p.status, p.code])).toEqual([
      [20, "request", 200, undefined],
      [20, "request", 404, "not_found"],
    ]);
    expect(parsed[0]).toMatchObject({
      worker: "host-1",
      part: "api",
      method: "GET",
      url: "/v1/meters",
    });
    expect(parsed[0].reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof parsed[0].ms).toBe("number");
    for (const line of lines) expect(keysInText(line)).toEqual(keysParsed(JSON.parse(line)));
  });

  it("nothing per request at info", async () => {
    expect(await requests("info")).toEqual([]);
  });

  it("a child's line names the worker once (the base), not again in its fields", () => {
    const { logger, lines } = captured("info");
    logger.child({ part: "reporter" }).info({ batchSize: 100 }, "reporter started");
    const [line] = lines;
    expect(line).toBeDefined();
    expect(keysInText(line ?? "")).toEqual(["batchSize", "level", "msg", "part", "time", "worker"]);
  });

  it("on a terminal: time, level, part, message, fields; an error's stack under it", () => {
    const { logger, lines } = captured("info", true);
    logger
      .child({ part: "reporter" })
      .info({ batchSize: 100, note: "two words" }, "reporter started");
    const err = new Error("connection refused");
    logger.child({ part: "api" }).error({ err }, "could not read");
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[reporter\] reporter started batchSize=100 note="two words"\n$/,
    );
    const [first, second] = (lines[1] ?? "").split("\n");
    expect(first).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR \[api\] could not read$/);
    expect(second).toBe("    Error: connection refused");
    expect(lines.join("")).not.toContain("host-1");
  });

  it("a line that is not pino's JSON passes through unchanged", () => {
    expect(prettyLine("plain text\n")).toBe("plain text\n");
  });
});
