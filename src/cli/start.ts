import { z } from "zod";
import { loadConfig } from "../config.ts";
import { type System, type SystemParts, startSystem } from "../system.ts";
import { seedDevelopment } from "./dev-seed.ts";
import { writeRuntimeInfo } from "./runtime-info.ts";
import { parseFlags } from "./usage-error.ts";

const ENV_NOTE =
  "Configuration comes from the environment (DATABASE_URL, STRIPE_SECRET_KEY, PORT, …): see the README.";

/** `meterline start`: API, worker and (without a Stripe key) the emulator, in one process. */
export function cmdStart(args: string[]): Promise<void> {
  return run(
    args,
    { api: true, worker: true },
    `Usage: meterline start\n\nRuns the API and a reporter worker in one process; without STRIPE_SECRET_KEY it also starts the bundled Stripe emulator and prints a development API key.\n${ENV_NOTE}`,
  );
}

/** `meterline serve`: the HTTP API only. */
export function cmdServe(args: string[]): Promise<void> {
  return run(
    args,
    { api: true, worker: false },
    `Usage: meterline serve\n\nRuns the HTTP API only (no reporting). Pair it with one or more "meterline worker" processes.\n${ENV_NOTE}`,
  );
}

/** `meterline worker`: one reporter worker, no API. */
export function cmdWorker(args: string[]): Promise<void> {
  return run(
    args,
    { api: false, worker: true },
    `Usage: meterline worker\n\nRuns one reporter worker. Any number of workers on any number of hosts may share one Postgres (DATABASE_URL).\n${ENV_NOTE}`,
  );
}

async function run(args: string[], parts: SystemParts, help: string): Promise<void> {
  if (!parseFlags(args, {}, z.object({}), help)) return;
  const config = loadConfig();
  const system = await startSystem(config, parts);
  stopOnSignals(system);
  if (system.emulator && system.apiUrl) {
    const dev = await seedDevelopment(system);
    await writeRuntimeInfo(config.dataDir, {
      api_url: system.apiUrl,
      api_key: dev.apiKey,
      emulator_url: system.emulator.url,
      stripe_key: system.emulator.apiKey,
    });
    process.stdout.write(banner(system, dev.apiKey, dev.customerKey, dev.eventName));
  } else {
    const what = [
      system.apiUrl && `API on ${system.apiUrl}`,
      system.reporter && "reporter running",
    ];
    process.stdout.write(
      `meterline: ${what.filter(Boolean).join(", ")} (database: ${system.database.kind})\n`,
    );
  }
}

function banner(system: System, apiKey: string, customer: string, eventName: string): string {
  const url = system.apiUrl ?? "";
  const body = JSON.stringify({ id: "hello-1", customer, event_name: eventName, value: 1 });
  return `
Meterline is running (database: ${system.database.kind}, Stripe: bundled emulator at ${system.emulator?.url}).

  API:              ${url}
  Development key:  ${apiKey}   (admin role; saved in ${system.config.dataDir}/runtime.json)

Send a usage event:

  curl -s -X POST ${url}/v1/events \\
    -H 'Authorization: Bearer ${apiKey}' \\
    -H 'Content-Type: application/json' \\
    -d '${body}'

Then see where it went:

  curl -s ${url}/v1/events/hello-1 -H 'Authorization: Bearer ${apiKey}'

In another terminal, "npm run demo" streams events with poison pills mixed in. Ctrl-C stops.
`;
}

/**
 * SIGTERM or SIGINT: stop claiming, let in-flight sends settle, close, exit 0.
 * A second signal exits at once: leases then expire and another worker picks the events up.
 */
function stopOnSignals(system: System): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      system.logger.warn({ signal }, "second signal: exiting at once");
      process.exit(130);
    }
    stopping = true;
    system.logger.info({ signal }, "stopping: no new claims, letting in-flight sends finish");
    system.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        system.logger.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
