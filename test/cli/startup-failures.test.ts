import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MeterlineRun, runMeterline, startEnv } from "../support/start-env.ts";

// A start that cannot succeed, as a new user meets it: the built CLI, a port another process
// holds, a database nobody listens for. Each must name the variable and say what to do, exit 2,
// and print no stack.
const dataDir = mkdtempSync(join(tmpdir(), "meterline-startup-"));
let holder: Server;
let taken: number;

beforeAll(async () => {
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const address = holder.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  taken = address.port;
});

afterAll(async () => {
  await new Promise((resolve) => holder?.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

/** Exit 2, one short message on stderr without a stack frame. */
function expectExplained(run: MeterlineRun): void {
  expect(run.code, run.err).toBe(2);
  expect(run.err).not.toMatch(/\n\s+at /);
  expect(run.err).not.toContain("Error:");
}

describe("start-up failures name the variable, exit 2, no stack", () => {
  it("the API's port is taken: PORT", async () => {
    const run = await runMeterline(["start"], startEnv(dataDir, { PORT: String(taken) }));
    expectExplained(run);
    expect(run.err).toContain(`port ${taken} is already in use (PORT)`);
    expect(run.err).toContain("set PORT to a free port");
  });

  it("the bundled emulator's port is taken: METERLINE_EMULATOR_PORT", async () => {
    const run = await runMeterline(
      ["start"],
      startEnv(dataDir, { METERLINE_EMULATOR_PORT: String(taken) }),
    );
    expectExplained(run);
    expect(run.err).toContain(`port ${taken} is already in use (METERLINE_EMULATOR_PORT)`);
  });

  it("the database cannot be reached: DATABASE_URL, its password hidden", async () => {
    const url = "postgres://meterline:hunter2@127.0.0.1:1/meterline";
    for (const command of ["start", "migrate"]) {
      const run = await runMeterline([command], startEnv(dataDir, { DATABASE_URL: url }));
      expectExplained(run);
      expect(run.err).toContain("cannot reach the database at DATABASE_URL");
      expect(run.err).toContain("ECONNREFUSED");
      expect(run.err).not.toContain("hunter2");
    }
  });

  it("a bad variable: its name, the rule and what to do", async () => {
    const run = await runMeterline(["start"], startEnv(dataDir, { PORT: "http" }));
    expectExplained(run);
    expect(run.err).toContain("PORT: must be a whole number");
    expect(run.err).toContain("Fix this variable in the environment");
  });
});
