import { ConfigError } from "../config.ts";
import { DatabaseInUseError } from "../db/pglite-lock.ts";
import { coerceError } from "../lib/errors.ts";
import { packageVersion } from "../lib/version.ts";
import { cmdAttach } from "./attach.ts";
import { cmdCancel } from "./cancel.ts";
import { cmdDemo } from "./demo.ts";
import { cmdDlq } from "./dlq.ts";
import { cmdEmulator } from "./emulator.ts";
import { cmdImport } from "./import.ts";
import { cmdKeys } from "./keys.ts";
import { cmdMigrate } from "./migrate.ts";
import { cmdReconcile } from "./reconcile.ts";
import { cmdServe, cmdStart, cmdWorker } from "./start.ts";
import { StartupError } from "./startup-failure.ts";
import { cmdStats } from "./stats.ts";
import { cmdTrace } from "./trace.ts";
import { UsageError } from "./usage-error.ts";

/** One entry per subcommand: what it does (for --help) and the function that runs it. */
const commands: Record<string, { summary: string; run: (args: string[]) => Promise<void> }> = {
  start: {
    summary: "run everything in one process: API, worker, and the emulator when no Stripe key",
    run: cmdStart,
  },
  serve: { summary: "run the HTTP API only", run: cmdServe },
  worker: {
    summary: "run a reporter worker only (run several against one Postgres)",
    run: cmdWorker,
  },
  emulator: { summary: "run the bundled Stripe emulator", run: cmdEmulator },
  migrate: { summary: "apply database migrations and exit", run: cmdMigrate },
  keys: { summary: "create, list or revoke API keys", run: cmdKeys },
  dlq: {
    summary: "dead letters: list, retry, discard, resolve --delivered (through the API)",
    run: cmdDlq,
  },
  cancel: {
    summary: "cancel pending events, with a reason: never sent (through the API)",
    run: cmdCancel,
  },
  import: {
    summary: "load usage events from an NDJSON or CSV file, checked by line (through the API)",
    run: cmdImport,
  },
  attach: {
    summary: "follow your own Postgres usage table; each new row stored once (Postgres only)",
    run: cmdAttach,
  },
  trace: { summary: "an event and every attempt, readable (through the API)", run: cmdTrace },
  stats: { summary: "queue counts: pending, reported, dead letters by code", run: cmdStats },
  reconcile: {
    summary: "compare what was reported with Stripe's totals; print the drift",
    run: cmdReconcile,
  },
  demo: {
    summary: "send a stream of usage events, poison pills included, and show live counts",
    run: cmdDemo,
  },
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(
    ([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`,
  );
  return `meterline: usage events in, Stripe usage billing out.\n\nUsage: meterline <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nRun "meterline <command> --help" for a command's options, "meterline --version" for the version. Configuration comes from the environment: see the README.`;
}

/** Exit codes scripts can rely on: 0 ok, 1 failure, 2 usage or configuration error. */
async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") {
    process.stdout.write(`meterline ${packageVersion()}\n`);
    return;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${help()}\n`);
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`meterline: unknown command "${name}"\n\n${help()}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    await command.run(rest);
  } catch (err) {
    if (err instanceof DatabaseInUseError) {
      process.stderr.write(`meterline ${name}: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (err instanceof ConfigError || err instanceof StartupError || err instanceof UsageError) {
      process.stderr.write(`meterline ${name}: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`meterline ${name}: ${coerceError(err).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv.slice(2));
