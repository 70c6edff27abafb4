import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Stripe from "stripe";
import { METERLINE_BIN, startEnv } from "./start-env.ts";

/** A `meterline start` running as a user runs it, and what its banner and runtime.json say. */
export interface RunningStart {
  /** The API's base URL, e.g. http://127.0.0.1:41234. */
  api: string;
  /** The dashboard's address it printed. */
  dashboard: string;
  /** The development admin key it printed. */
  key: string;
  /** The bundled emulator's base URL, and the Stripe key Meterline uses with it. */
  emulatorUrl: string;
  stripeKey: string;
  /** The banner's example event: a customer and meter the development seed linked. */
  example: { customer: string; event_name: string };
  /** A Stripe client on the emulator, with the key Meterline uses. */
  stripe: Stripe;
  /** Sends an admin request to the API: its status and JSON body. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
  /** Revokes or restores Meterline's Stripe key at the emulator (POST /_emulator/keys/…). */
  stripeKeyAccess(what: "revoke" | "restore"): Promise<void>;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `meterline start` on `dataDir` (compiled dist/: build first) and waits for its banner. */
export async function runStart(
  dataDir: string,
  extraEnv: Record<string, string> = {},
): Promise<RunningStart> {
  const child = spawn(process.execPath, [METERLINE_BIN, "start"], {
    env: startEnv(dataDir, extraEnv),
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
  const banner = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ctrl-C stops")) resolve(out);
    });
    child.once("exit", (code) => reject(new Error(`start exited with ${code}: ${out}`)));
  });
  const api = /API:\s+(\S+)/.exec(banner)?.[1] ?? "";
  const key = /Development key:\s+(\S+)/.exec(banner)?.[1] ?? "";
  const dashboard = /Dashboard:\s+(\S+)/.exec(banner)?.[1] ?? "";
  const example = JSON.parse(/-d '(\{.*\})'/.exec(banner)?.[1] ?? "{}");
  const runtime = JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8"));
  const emulatorUrl: string = runtime.emulator_url;
  const stripeKey: string = runtime.stripe_key;
  const emulator = new URL(emulatorUrl);
  return {
    api,
    dashboard,
    key,
    emulatorUrl,
    stripeKey,
    example,
    stripe: new Stripe(stripeKey, {
      host: emulator.hostname,
      port: Number(emulator.port),
      protocol: "http",
      maxNetworkRetries: 0,
    }),
    async call(method, path, body) {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    },
    async stripeKeyAccess(what) {
      const res = await fetch(`${emulatorUrl}/_emulator/keys/${what}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key: stripeKey }),
      });
      if (!res.ok) throw new Error(`emulator keys/${what}: ${res.status} ${await res.text()}`);
    },
    stop: () => stop(child),
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}
