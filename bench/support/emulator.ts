/**
 * Starts the emulator in a child process (see emulator-child.ts for why) and talks to it.
 * Faults are fixed at start: latency and jitter on the usage endpoints, nothing else.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RateLimits } from "../../src/emulator/index.ts";
import type { EmulatorReply, EmulatorRequest, UsageCounts } from "./emulator-protocol.ts";
import { forkBenchScript } from "./meterline-process.ts";

/** A running emulator process. */
export interface EmulatorProcess {
  /** Base URL, e.g. http://127.0.0.1:41234. */
  url: string;
  /** The key it accepts. */
  apiKey: string;
  /** Replaces its rate limits (counting restarts). */
  setRateLimits(limits: RateLimits): Promise<void>;
  /** Meter events it accepted (and counted), and usage records it accepted. */
  ledger(): Promise<{ accepted: number; counted: number; usageRecords: number }>;
  /** Requests per usage endpoint group (meter_events, meter_event_stream, usage_records). */
  usage(): Promise<Record<string, UsageCounts>>;
  /** The emulator process's pid, for its CPU. */
  pid: number;
  /** Stops it and waits for the process to exit. */
  close(): Promise<void>;
}

/** The key the bench's emulators accept. */
export const BENCH_KEY = "sk_test_bench";

const childPath = fileURLToPath(new URL("./emulator-child.ts", import.meta.url));

/** A request without its id (the id is assigned when it is sent); distributes over the union. */
type Body<T> = T extends unknown ? Omit<T, "id"> : never;

/** Starts an emulator process with the given latency (ms ± jitter) and no rate limits yet. */
export async function startEmulatorProcess(latency: {
  latencyMs: number;
  jitterMs: number;
}): Promise<EmulatorProcess> {
  const options = {
    apiKeys: [BENCH_KEY],
    faults: { latencyMs: latency.latencyMs, latencyJitterMs: latency.jitterMs },
    rateLimits: { mode: "off" },
  };
  const child: ChildProcess = forkBenchScript(childPath, [JSON.stringify(options)]);
  const pending = new Map<number, (reply: EmulatorReply) => void>();
  let nextId = 1;
  const ready = new Promise<{ url: string; apiKey: string }>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`emulator process exited with ${code}`)));
    child.on("message", (message: EmulatorReply) => {
      if (message.type === "ready") resolve(message);
      else pending.get(message.id)?.(message);
    });
  });
  const { url, apiKey } = await ready;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  function call(body: Body<EmulatorRequest>): Promise<EmulatorReply> {
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, (reply) => {
        pending.delete(id);
        resolve(reply);
      });
      child.send({ ...body, id });
    });
  }

  return {
    url,
    apiKey,
    async setRateLimits(limits) {
      await call({ type: "rate-limits", limits });
    },
    async ledger() {
      const reply = await call({ type: "ledger" });
      return reply.type === "ledger"
        ? { accepted: reply.accepted, counted: reply.counted, usageRecords: reply.usageRecords }
        : { accepted: Number.NaN, counted: Number.NaN, usageRecords: Number.NaN };
    },
    async usage() {
      const reply = await call({ type: "usage" });
      return reply.type === "usage" ? reply.usage : {};
    },
    pid: child.pid ?? 0,
    async close() {
      if (child.exitCode !== null) return;
      await Promise.race([call({ type: "close" }), exited]);
      await exited;
    },
  };
}
