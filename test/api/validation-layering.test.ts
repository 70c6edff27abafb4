import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const src = join(import.meta.dirname, "../../src");

/** The relative modules a source file imports (`import … from "./x.ts"`). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(src, file), "utf8");
  return [...text.matchAll(/from "(\.[^"]+)"/g)].map((m) => m[1] ?? "");
}

// Input checks are pure and shared (routes, the CLI): they sit below the HTTP layer, not in it.
describe("validation lives below the HTTP layer", () => {
  it("src/http/validation.ts is gone: zod issue translation is in src/validation", () => {
    expect(existsSync(join(src, "http/validation.ts"))).toBe(false);
    expect(existsSync(join(src, "validation/describe-issues.ts"))).toBe(true);
    expect(existsSync(join(src, "validation/parse-body.ts"))).toBe(true);
  });

  it.each([
    ...readdirSync(join(src, "validation")).map((f) => `validation/${f}`),
    "ingest/event-input.ts",
    "ingest/event-checks.ts",
    "ingest/customers-route.ts",
    "ops/meters-route.ts",
    "ops/dead-letters-input.ts",
    "ops/dead-letters-filter.ts",
  ])("%s imports nothing from src/http", (file) => {
    expect(importsOf(file).filter((m) => m.includes("/http/"))).toEqual([]);
  });
});
