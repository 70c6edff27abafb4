/**
 * `npm run chaos`: the chaos run as a script that prints a report (never a timed test), or with
 * --json one JSON document. Exit code 0 when every invariant of design.md §5 holds and every
 * scenario happened, 1 otherwise, 2 on a usage error.
 */
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/cli/usage-error.ts";
import { coerceError } from "../../src/lib/errors.ts";
import { runChaos } from "./chaos.ts";
import { parseChaosArgs } from "./options.ts";
import { createProgress } from "./progress.ts";
import { formatReport, jsonReport } from "./report.ts";

async function main(): Promise<number> {
  const defaultLog = join(tmpdir(), `meterline-chaos-${randomBytes(3).toString("hex")}.log`);
  const options = parseChaosArgs(process.argv.slice(2), process.env, defaultLog);
  if (!options) return 0;
  // With --json, stdout carries the document only: everything else goes to stderr.
  const out = options.json ? process.stderr : process.stdout;
  // Ctrl-C stops waiting; the run still stops its processes and drops its database.
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort());
  process.once("SIGTERM", () => abort.abort());
  const progress = createProgress(out);
  const report = await runChaos(options, {
    log: (line) => out.write(`${line}\n`),
    onProgress: (s) => progress.update(s),
    signal: abort.signal,
  }).finally(() => progress.stop());
  if (options.json) process.stdout.write(`${JSON.stringify(jsonReport(report), null, 2)}\n`);
  else process.stdout.write(`\n${formatReport(report)}`);
  return report.failures.length === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`chaos: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`chaos: ${coerceError(err).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
