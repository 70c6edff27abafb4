import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseFlags, UsageError } from "../../src/cli/usage-error.ts";

describe("command flags", () => {
  const parse = (args: string[]) =>
    parseFlags(
      args,
      { table: { type: "string" }, batch: { type: "string" } },
      z.object({ table: z.string(), batch: z.coerce.number().int().min(1).optional() }),
      "HELP",
    );

  it("a flag left out is named as required; a bad value keeps its rule; help follows", () => {
    expect(() => parse([])).toThrow(UsageError);
    expect(() => parse([])).toThrow(/^--table: is required\n\nHELP$/);
    expect(() => parse(["--table", "t", "--batch", "0"])).toThrow(/^--batch: Too small/);
    expect(parse(["--table", "t"])?.flags).toEqual({ table: "t" });
  });
});
