/**
 * The bundled Stripe emulator: `startEmulator` for tests, `meterline emulator` and `start`.
 * It serves customers, billing meters and v1 meter events over Stripe's wire protocol, keeps a
 * ledger of what "Stripe" counted, and injects faults into the usage endpoint.
 */
import type { AddressInfo } from "node:net";
import type { Clock } from "./clock.ts";
import { createContext } from "./context.ts";
import type { Faults, Random } from "./faults.ts";
import type { Ledger } from "./ledger.ts";
import { buildEmulatorApp } from "./server.ts";

export type { Clock } from "./clock.ts";
export { systemClock } from "./clock.ts";
export type { FaultDecision, FaultOutcome, Faults, Random } from "./faults.ts";
export { decideFault, faultsPatchSchema, NO_FAULTS } from "./faults.ts";
export type { Ledger } from "./ledger.ts";

/** Options for `startEmulator`. */
export interface EmulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one; default 12111. */
  port?: number;
  /** Accepted secret keys; default ["sk_test_emulator"]. */
  apiKeys?: string[];
  /** Initial faults; missing fields are 0. */
  faults?: Partial<Faults>;
  /** Log requests with pino (fastify's logger); default false. */
  logger?: boolean;
}

/** Test seams beyond the public options: a fixed clock, a seeded random source. */
export interface EmulatorDeps {
  /** Source of now; default the wall clock. */
  clock?: Clock;
  /** Source of [0, 1) numbers for fault decisions; default Math.random. */
  random?: Random;
}

/** A running emulator instance. */
export interface RunningEmulator {
  /** Base URL, e.g. http://127.0.0.1:12111. */
  url: string;
  /** The port actually bound. */
  port: number;
  /** The first configured API key. */
  apiKey: string;
  /** Snapshot of the ledger (same data as GET /_emulator/ledger). */
  ledger(): Ledger;
  /** Merge new fault settings into the current ones; throws on an invalid value. */
  setFaults(f: Partial<Faults>): void;
  /** Current fault settings. */
  faults(): Faults;
  /** Make a key answer 401 until restored. */
  revokeKey(key: string): void;
  /** Undo `revokeKey`. */
  restoreKey(key: string): void;
  /** Stop listening and release the port. */
  close(): Promise<void>;
}

/** The key accepted when no `apiKeys` are given. */
export const DEFAULT_EMULATOR_KEY = "sk_test_emulator";
/** The port used when no `port` is given. */
export const DEFAULT_EMULATOR_PORT = 12111;

/** Start the emulator and resolve once it listens. Throws on invalid faults or a taken port. */
export async function startEmulator(
  options: EmulatorOptions = {},
  deps: EmulatorDeps = {},
): Promise<RunningEmulator> {
  const apiKeys = options.apiKeys?.length ? [...options.apiKeys] : [DEFAULT_EMULATOR_KEY];
  const [apiKey = DEFAULT_EMULATOR_KEY] = apiKeys;
  const ctx = createContext({ apiKeys, faults: options.faults ?? {}, ...deps });
  const app = buildEmulatorApp(ctx, { logger: options.logger ?? false });
  await app.listen({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? DEFAULT_EMULATOR_PORT,
  });
  const { address, port, family } = app.server.address() as AddressInfo;
  const host = family === "IPv6" ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    apiKey,
    ledger: () => ctx.store.ledger.snapshot(),
    setFaults: (f) => {
      ctx.setFaults(f);
    },
    faults: () => ctx.faults(),
    revokeKey: (key) => ctx.keys.revoke(key),
    restoreKey: (key) => ctx.keys.restore(key),
    close: () => app.close(),
  };
}
