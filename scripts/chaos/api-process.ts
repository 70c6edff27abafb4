import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import type { Db } from "../../src/db/connect.ts";
import { createApiKey } from "../../src/ops/api-keys.ts";
import type { LogSink } from "./log-sink.ts";
import { BIN, ROOT } from "./workers.ts";

/** What `meterline serve` prints once it listens. */
const LISTENING = /API on (http:\/\/[^\s,]+)/;
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** The API as a separate process: `meterline serve`, billing sync included. */
export interface ApiProcess {
  /** Its base URL. */
  url: string;
  /** The signing secret of the event destination it serves at POST /webhooks/stripe. */
  webhookSecret: string;
  /** Keys created for the run: an ingest key (producers) and an admin key (the operator). */
  ingestKey: string;
  adminKey: string;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

/**
 * Starts `meterline serve` against the run's database and Stripe, with STRIPE_WEBHOOK_SECRET
 * set (the route of billing sync is registered only then), and creates its API keys as
 * `meterline keys create` does. The caller registers the event destination in the emulator,
 * as `start` does for its bundled one (src/system.ts).
 */
export async function startApi(db: Db, env: NodeJS.ProcessEnv, log: LogSink): Promise<ApiProcess> {
  const webhookSecret = `whsec_${randomBytes(24).toString("hex")}`;
  const child: ChildProcess = spawn(process.execPath, [BIN, "serve"], {
    cwd: ROOT,
    env: {
      ...env,
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      HOST: "127.0.0.1",
      PORT: "0",
      METERLINE_WORKER: "false",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`meterline serve did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        log.write(`[api] ${line}`);
        const match = LISTENING.exec(line);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    }
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error("meterline serve exited before it listened (see the log)"));
    });
  });
  const ingest = await createApiKey(db, { name: "chaos producer", role: "ingest" });
  const admin = await createApiKey(db, { name: "chaos operator", role: "admin" });
  return {
    url,
    webhookSecret,
    ingestKey: ingest.secret,
    adminKey: admin.secret,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** An answer of the API: status and parsed body (null when not JSON). */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** One request to the API. `body` is sent as is when a string, else as JSON. */
export async function callApi(
  base: string,
  method: string,
  path: string,
  options: { key?: string | null; body?: unknown; contentType?: string } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] = options.contentType ?? "application/json";
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed };
}
