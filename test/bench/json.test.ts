import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { at, type Figure, REQUIRED_KEYS } from "../../bench/report.ts";

const root = join(import.meta.dirname, "../..");

/** Runs `npm run bench -- --smoke --json …` (the smallest configuration); stdout and stderr. */
function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "bench/run.ts", "--smoke", "--json", ...args],
      { cwd: root, maxBuffer: 64 * 1024 * 1024, env: { ...process.env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Every leaf of the document with its dotted path. */
function leaves(node: Figure, path = ""): Array<[string, Figure]> {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return [[path, node]];
  return Object.entries(node).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k));
}

/** Keys whose values are words, not figures. */
const WORDS =
  /(^|\.)(skipped|note|preset|generated_at|machine|parameters|load_average_at_end)(\.|$)/;

// Not a speed test: the smallest sizes, only the document's shape and that figures are numbers.
describe("npm run bench -- --json", () => {
  it(
    "prints one JSON document on stdout, every figure a number (null only when unmeasured)",
    async () => {
      const onPostgres = Boolean(process.env.DATABASE_URL);
      const run = await bench(onPostgres ? [] : ["--engines", "pglite"]);
      expect(run.code, run.stderr.slice(-2_000)).toBe(0);
      const doc = JSON.parse(run.stdout) as Figure;
      expect(typeof doc === "object" && doc !== null && !Array.isArray(doc)).toBe(true);
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return;
      // The tables went to stderr's progress, not into the document's stream.
      expect(run.stdout.trimStart().startsWith("{")).toBe(true);

      const required = onPostgres
        ? [...REQUIRED_KEYS]
        : REQUIRED_KEYS.filter((k) => k.includes(".pglite."));
      for (const key of required) {
        const value = at(doc, key);
        expect(Number.isFinite(value), `${key} = ${JSON.stringify(value)}`).toBe(true);
      }
      for (const [path, value] of leaves(doc)) {
        if (WORDS.test(path)) continue;
        expect(
          typeof value === "number" || value === null || typeof value === "boolean",
          `${path} = ${JSON.stringify(value)}`,
        ).toBe(true);
      }
      if (!onPostgres) {
        expect(at(doc, "backlog.skipped")).toBe("it needs Postgres");
      }
      // The warm-up (--smoke: 50 v1 events) went first, measured apart: the run's counts are
      // its own, the emulator's included (it saw both loads).
      const v1 = `e2e.${onPostgres ? "postgres" : "pglite"}.meter_events`;
      expect(at(doc, `${v1}.warmup.events`)).toBe(50);
      expect(Number.isFinite(at(doc, `${v1}.warmup.cpu_ms_per_event`))).toBe(true);
      expect(at(doc, `${v1}.reported`)).toBe(200);
      expect(at(doc, `${v1}.emulator_accepted`)).toBe(200);
      expect(at(doc, `${v1}.requests`)).toBe(200);
    },
    // A hang guard for a run of a few minutes on a busy machine, not a speed limit.
    20 * 60_000,
  );
});
