/**
 * The transport floor of the v1 rows: what two bare Node processes cost, in CPU per event, to
 * exchange one HTTP request per event at the rate Meterline reached, with the emulator's
 * latency (support/http-floor-child.ts). A process that sleeps between requests pays for every
 * wake-up, and on a virtual machine that cost is large: the floor shows how much of the
 * worker's and the emulator's CPU per event any sender and any server would spend here, and so
 * how much is Meterline's own.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchOptions } from "./options.ts";
import { startProcessCpu } from "./support/cpu.ts";
import type { FloorMessage } from "./support/http-floor-child.ts";
import { benchNodeArgs } from "./support/meterline-process.ts";

const childPath = fileURLToPath(new URL("./support/http-floor-child.ts", import.meta.url));

/** One measurement of the floor. */
export interface FloorResult {
  /** Requests per second asked for (one event each). */
  perSecond: number;
  requests: number;
  wallMs: number;
  errors: number;
  firstError: string | null;
  /** CPU ms of the sending process and of the answering one, over the whole load. */
  clientCpuMs: number;
  serverCpuMs: number;
}

/** Seconds of load the floor sends (the quick presets send fewer). */
export function floorSeconds(options: Pick<BenchOptions, "quick">): number {
  return options.quick ? 3 : 10;
}

function start(role: "server" | "client", args: object): ChildProcess {
  return fork(childPath, [role, JSON.stringify(args)], {
    execArgv: [...benchNodeArgs(), "--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
}

function next(child: ChildProcess, type: FloorMessage["type"]): Promise<FloorMessage> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`transport floor ${type}: the process exited with ${code}`));
    child.once("exit", onExit);
    child.on("message", function onMessage(m: FloorMessage) {
      if (m.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(m);
    });
  });
}

/** Measures the floor at `perSecond` requests/s with the emulator's latency. */
export async function measureFloor(
  options: Pick<BenchOptions, "latencyMs" | "jitterMs" | "quick">,
  perSecond: number,
): Promise<FloorResult> {
  const server = start("server", { latencyMs: options.latencyMs, jitterMs: options.jitterMs });
  try {
    const ready = await next(server, "ready");
    const port = ready.type === "ready" ? ready.port : 0;
    const requests = Math.round(perSecond * floorSeconds(options));
    const client = start("client", { port, perSecond, count: requests });
    await next(client, "ready");
    // Counted once both are loaded and idle, as the e2e rows count from the first POST.
    const cpu = startProcessCpu({ client: client.pid ?? 0, server: server.pid ?? 0 });
    const finished = next(client, "done");
    client.send("start");
    const done = await finished;
    const ms = cpu.stop();
    client.kill();
    if (done.type !== "done") throw new Error("transport floor: no result");
    return {
      perSecond,
      requests,
      wallMs: done.wallMs,
      errors: done.errors,
      firstError: done.firstError,
      clientCpuMs: ms.client ?? Number.NaN,
      serverCpuMs: ms.server ?? Number.NaN,
    };
  } finally {
    server.kill();
  }
}
