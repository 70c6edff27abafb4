import { ConfigError } from "../config.ts";
import { DatabaseInUseError } from "../db/pglite-lock.ts";
import { coerceError } from "../lib/errors.ts";
import { packageVersion } from "../lib/version.ts";
import { StartupError } from "./startup-failure.ts";
import { UsageError } from "./usage-error.ts";

/**
 * One entry per subcommand: what it does (for --help) and the function that runs it, loaded when
 * it runs: a `worker` does not load the API, the emulator, import or attach (start-up time and
 * memory), and `import` does not load the server.
 */
const commands: Record<string, { summary: string; run: (args: string[]) => Promise<void> }> = {
  start: {
    summary: "run everything in one process: API, worker, and the emulator when no Stripe key",
    run: async (a) => (await import("./start.ts")).cmdStart(a),
  },
  serve: {
    summary: "run the HTTP API only",
    run: async (a) => (await import("./start.ts")).cmdServe(a),
  },
  worker: {
    summary: "run a reporter worker only (run several against one Postgres)",
    run: async (a) => (await import("./start.ts")).cmdWorker(a),
  },
  emulator: {
    summary: "run the bundled Stripe emulator",
    run: async (a) => (await import("./emulator.ts")).cmdEmulator(a),
  },
  migrate: {
    summary: "apply database migrations and exit",
    run: async (a) => (await import("./migrate.ts")).cmdMigrate(a),
  },
  keys: {
    summary: "create, list or revoke API keys",
    run: async (a) => (await import("./keys.ts")).cmdKeys(a),
  },
  dlq: {
    summary: "dead letters: list, retry, discard, resolve --delivered (through the API)",
    run: async (a) => (await import("./dlq.ts")).cmdDlq(a),
  },
  cancel: {
    summary: "cancel pending events, with a reason: never sent (through the API)",
    run: async (a) => (await import("./cancel.ts")).cmdCancel(a),
  },
  import: {
    summary: "load usage events from an NDJSON or CSV file, checked by line (through the API)",
    run: async (a) => (await import("./import.ts")).cmdImport(a),
  },
  attach: {
    summary: "follow your own Postgres usage table; each new row stored once (Postgres only)",
    run: async (a) => (await import("./attach.ts")).cmdAttach(a),
  },
  trace: {
    summary: "an event and every attempt, readable (through the API)",
    run: async (a) => (await import("./trace.ts")).cmdTrace(a),
  },
  stats: {
    summary: "queue counts: pending, reported, dead letters by code",
    run: async (a) => (await import("./stats.ts")).cmdStats(a),
  },
  reconcile: {
    summary: "compare what was reported with Stripe's totals; print the drift",
    run: async (a) => (await import("./reconcile.ts")).cmdReconcile(a),
  },
  demo: {
    summary: "send a stream of usage events, poison pills included, and show live counts",
    run: async (a) => (await import("./demo.ts")).cmdDemo(a),
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
