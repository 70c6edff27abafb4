import { z } from "zod";
import { type Config, loadConfig } from "../config.ts";
import { boundHeapGrowth } from "../lib/heap-growth.ts";
import { type System, type SystemParts, startSystem } from "../system.ts";
import { type DevSeed, seedDevelopment } from "./dev-seed.ts";
import { writeRuntimeInfo } from "./runtime-info.ts";
import { explainingFailures } from "./startup-failure.ts";
import { parseFlags } from "./usage-error.ts";

const ENV_NOTE =
  "Configuration comes from the environment (DATABASE_URL, STRIPE_SECRET_KEY, PORT, …): see the README.";

/**
 * `meterline start`: API, worker and (without a Stripe key) the emulator, in one process.
 * METERLINE_WORKER=false leaves the worker out: the API queues events for workers run apart.
 */
export function cmdStart(args: string[]): Promise<void> {
  return run(
    args,
    (config) => ({ api: true, worker: config.worker.enabled, emulator: true }),
    `Usage: meterline start\n\nRuns the API and a reporter worker in one process (no worker with METERLINE_WORKER=false); without STRIPE_SECRET_KEY it also starts the bundled Stripe emulator and prints a development API key.\n${ENV_NOTE}`,
  );
}

/** `meterline serve`: the HTTP API only. */
export function cmdServe(args: string[]): Promise<void> {
  return run(
    args,
    () => ({ api: true, worker: false }),
    `Usage: meterline serve\n\nRuns the HTTP API only (no reporting). Pair it with one or more "meterline worker" processes.\n${ENV_NOTE}`,
  );
}

/** `meterline worker`: one reporter worker, no API. */
export function cmdWorker(args: string[]): Promise<void> {
  return run(
    args,
    () => ({ api: false, worker: true }),
    `Usage: meterline worker\n\nRuns one reporter worker. Any number of workers on any number of hosts may share one Postgres (DATABASE_URL).\n${ENV_NOTE}`,
  );
}

const NO_WORKER =
  "no reporter worker (METERLINE_WORKER=false): accepted events wait in the queue until a worker runs";

/** True when the configuration, not the command, left the worker out. */
function workerDisabled(config: Config, parts: SystemParts): boolean {
  return !parts.worker && !config.worker.enabled;
}

/** Which parts a command runs, given the configuration (`start` reads METERLINE_WORKER). */
type PartsFor = (config: Config) => SystemParts;

async function run(args: string[], partsFor: PartsFor, help: string): Promise<void> {
  if (!parseFlags(args, {}, z.object({}), help)) return;
  // A long-running process: garbage is collected before it piles up (lib/heap-growth.ts).
  boundHeapGrowth();
  const config = loadConfig();
  const parts = partsFor(config);
  const system = await explainingFailures(config, () => startSystem(config, parts));
  stopOnSignals(system);
  stopWithEmulator(system);
  if (system.emulator && system.apiUrl) {
    const dev = await seedDevelopment(system);
    await writeRuntimeInfo(config.dataDir, {
      api_url: system.apiUrl,
      api_key: dev.apiKey,
      emulator_url: system.emulator.url,
      stripe_key: system.emulator.apiKey,
    });
    const note = workerDisabled(config, parts) ? `\n  Note: ${NO_WORKER}.\n` : "";
    process.stdout.write(banner(system, dev, note));
  } else {
    const what = [
      system.apiUrl && `API on ${system.apiUrl}`,
      system.reporter && "reporter running",
      system.metricsUrl && `metrics on ${system.metricsUrl}`,
      workerDisabled(config, parts) && NO_WORKER,
    ];
    process.stdout.write(
      `meterline: ${what.filter(Boolean).join(", ")} (database: ${system.database.kind})\n`,
    );
  }
}

function banner(system: System, dev: DevSeed, note: string): string {
  const url = system.apiUrl ?? "";
  const { apiKey, customerKey: customer, eventName } = dev;
  const body = JSON.stringify({ id: "hello-1", customer, event_name: eventName, value: 1 });
  return `
Meterline is running (database: ${system.database.kind}, Stripe: bundled emulator at ${system.emulator?.url}).

  API:              ${url}   (reference: ${url}/docs, ${url}/openapi.json)
  Development key:  ${apiKey}   (admin role; saved in ${system.config.dataDir}/runtime.json)
  Dashboard:        ${url}/dashboard   (sign in with the development key)
  Metrics:          ${system.metricsUrl ?? `${url}/metrics`}${system.metricsUrl ? "" : "   (Prometheus text; send the key)"}
${note}
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
 * The bundled emulator runs on a thread of its own: should that thread end (an uncaught error),
 * Stripe is gone for this process, so it stops as a whole and exits 1 rather than serve an API
 * whose events can never be reported.
 */
function stopWithEmulator(system: System): void {
  void system.emulator?.lost.then((err) => {
    system.logger.error({ err }, "the bundled Stripe emulator stopped: stopping");
    system.stop().finally(() => process.exit(1));
  });
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
