import { spawn } from "node:child_process";
import { join } from "node:path";

/** The `meterline` entry a user runs (compiled dist/, built by `npm test` first). */
export const METERLINE_BIN = join(import.meta.dirname, "../../bin/meterline.js");

/**
 * The environment of a `meterline start` as a new user runs it: the embedded database in
 * `dataDir`, the bundled emulator, free ports (the tests run side by side), quiet logs. A
 * DATABASE_URL or STRIPE_SECRET_KEY from the caller's environment is cleared, not inherited.
 */
export function startEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    METERLINE_DATA_DIR: dataDir,
    PORT: "0",
    METERLINE_EMULATOR_PORT: "0",
    LOG_LEVEL: "warn",
    DATABASE_URL: "",
    STRIPE_SECRET_KEY: "",
    ...extra,
  };
}

/** What a finished `meterline` process left: its exit code, stdout and stderr. */
export interface MeterlineRun {
  code: number | null;
  out: string;
  err: string;
}

/** Runs the built `meterline` with `args` in `env` until it exits. */
export function runMeterline(args: string[], env: NodeJS.ProcessEnv): Promise<MeterlineRun> {
  const child = spawn(process.execPath, [METERLINE_BIN, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, out, err })));
}
