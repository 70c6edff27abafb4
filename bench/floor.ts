/**
 * The transport floor of the v1 rows: what two bare Node processes cost, in CPU per event, to
 * exchange one HTTP request per event at the rate Meterline reached, with the emulator's
 * latency (support/http-floor-child.ts). A process that sleeps between requests pays for every
 * wake-up, and on a virtual machine that cost is large: the floor shows how much of the
 * worker's and the emulator's CPU per event any sender and any server would spend here, and so
 * how much is Meterline's own.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ModeResult } from "./e2e-mode.ts";
import type { BenchOptions, Engine } from "./options.ts";
import { type Figures, put } from "./report.ts";
import { startProcessCpu } from "./support/cpu.ts";
import type { FloorMessage, FloorVia } from "./support/http-floor-child.ts";
import { forkBenchScript } from "./support/meterline-process.ts";
import { say } from "./support/progress.ts";
import { cpuCell, num, perEvent, rate, type Table } from "./table.ts";

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
  /** Requests sent at the same rate before the CPU was counted. */
  warmup: number;
}

/** Seconds of load the floor sends (the quick presets send fewer). */
export function floorSeconds(options: Pick<BenchOptions, "quick">): number {
  return options.quick ? 3 : 10;
}

function start(role: "server" | "client", args: object): ChildProcess {
  return forkBenchScript(childPath, [role, JSON.stringify(args)]);
}

/** The child's next message of `type` (rejects if it exits first). */
function next<T extends FloorMessage["type"]>(
  child: ChildProcess,
  type: T,
): Promise<Extract<FloorMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`transport floor ${type}: the process exited with ${code}`));
    child.once("exit", onExit);
    child.on("message", function onMessage(m: FloorMessage) {
      if (m.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(m as Extract<FloorMessage, { type: T }>);
    });
  });
}

/**
 * Measures the floor at `perSecond` requests/s with the emulator's latency, the client sending
 * `via` bare node:http or Meterline's v1 sink (the Stripe SDK).
 */
export async function measureFloor(
  options: Pick<BenchOptions, "latencyMs" | "jitterMs" | "quick">,
  perSecond: number,
  via: FloorVia,
  warmup = 0,
): Promise<FloorResult> {
  const server = start("server", { latencyMs: options.latencyMs, jitterMs: options.jitterMs });
  try {
    const { port } = await next(server, "ready");
    const requests = Math.round(perSecond * floorSeconds(options));
    const client = start("client", { port, perSecond, count: requests, warmup, via });
    await next(client, "ready");
    if (warmup > 0) {
      const warm = next(client, "warm");
      client.send("start");
      await warm;
    }
    // Counted once both are loaded (and warm), as the e2e rows count after their warm-up.
    const cpu = startProcessCpu({ client: client.pid ?? 0, server: server.pid ?? 0 });
    const finished = next(client, "done");
    client.send("start");
    const done = await finished;
    const ms = cpu.stop();
    client.kill();
    return {
      perSecond,
      requests,
      wallMs: done.wallMs,
      errors: done.errors,
      firstError: done.firstError,
      clientCpuMs: ms.client ?? Number.NaN,
      serverCpuMs: ms.server ?? Number.NaN,
      warmup,
    };
  } finally {
    server.kill();
  }
}

/**
 * The floors measured beside a v1 row: bare node:http, and the SDK (Meterline's v1 sink) over the
 * same bare server, which is null if it failed (said on stderr). The row's engine says whose
 * rate they took.
 */
export type V1Floor = FloorResult & { sdk: FloorResult | null; engine: Engine };

/**
 * Measures the floor at the rate the v1 row reached (the Postgres row's, else any), or null when
 * there is no v1 row or the floor could not be measured (said on stderr).
 */
export async function floorOfV1(
  results: readonly ModeResult[],
  options: Pick<BenchOptions, "latencyMs" | "jitterMs" | "quick">,
): Promise<V1Floor | null> {
  const v1 =
    results.find((r) => r.mode === "meter_events" && r.engine === "postgres") ??
    results.find((r) => r.mode === "meter_events");
  if (v1 === undefined || !Number.isFinite(v1.steadyPerS) || v1.steadyPerS <= 0) return null;
  try {
    say(`… transport floor at ${num(v1.steadyPerS)} requests/s`);
    const perSecond = Math.round(v1.steadyPerS);
    // Warmed up like the row it is compared with.
    const warmup = v1.warmup?.events ?? 0;
    const http = await measureFloor(options, perSecond, "http", warmup);
    let sdk: FloorResult | null = null;
    try {
      say(`… the SDK's floor at ${num(v1.steadyPerS)} requests/s`);
      sdk = await measureFloor(options, perSecond, "sdk", warmup);
    } catch (err) {
      say(`the SDK's floor failed: ${String(err)}`);
    }
    return { ...http, sdk, engine: v1.engine };
  } catch (err) {
    say(`transport floor failed: ${String(err)}`);
    return null;
  }
}

/** A floor's name cell, with its errors when it had any. */
function floorName(name: string, f: FloorResult): string {
  return f.errors > 0 ? `${name} (${num(f.errors)} errors: ${f.firstError ?? ""})` : name;
}

/**
 * The floors' table, with the worker's and the emulator's CPU of each v1 row whose worker runs
 * apart (Postgres) beside them, each less the bare floor's; puts the figures under
 * `floor.meter_events` (the SDK's under `floor.meter_events.sdk`) and each row's
 * `cpu_ms_per_event_above_floor`.
 */
export function floorTable(
  f: V1Floor,
  results: readonly ModeResult[],
  options: Pick<BenchOptions, "latencyMs" | "jitterMs" | "quick">,
  figures: Figures,
  footer: () => string[],
): Table {
  const client = perEvent(f.clientCpuMs, f.requests);
  const server = perEvent(f.serverCpuMs, f.requests);
  put(figures, "floor.meter_events.requests_per_s", f.perSecond);
  put(figures, "floor.meter_events.requests", f.requests);
  put(figures, "floor.meter_events.errors", f.errors);
  put(figures, "floor.meter_events.warmup", f.warmup);
  put(figures, "floor.meter_events.client_cpu_ms_per_event", client);
  put(figures, "floor.meter_events.server_cpu_ms_per_event", server);
  put(figures, "floor.meter_events.cpu_ms_per_event", client + server);
  /** A row: its sender's and answerer's CPU per event, and each less the bare floor's. */
  const row = (name: string, perS: number, sender: number, answerer: number): string[] => [
    name,
    num(perS),
    cpuCell(sender),
    cpuCell(answerer),
    cpuCell(sender + answerer),
    cpuCell(sender - client),
    cpuCell(answerer - server),
    cpuCell(sender + answerer - (client + server)),
  ];
  const rows = [
    [
      floorName("floor: node:http client, node:http server", f),
      num(rate(f.requests, f.wallMs)),
      cpuCell(client),
      cpuCell(server),
      cpuCell(client + server),
      "",
      "",
      "",
    ],
  ];
  if (f.sdk !== null) {
    const sdk = perEvent(f.sdk.clientCpuMs, f.sdk.requests);
    const sdkServer = perEvent(f.sdk.serverCpuMs, f.sdk.requests);
    put(figures, "floor.meter_events.sdk.requests", f.sdk.requests);
    put(figures, "floor.meter_events.sdk.errors", f.sdk.errors);
    put(figures, "floor.meter_events.sdk.client_cpu_ms_per_event", sdk);
    put(figures, "floor.meter_events.sdk.server_cpu_ms_per_event", sdkServer);
    put(figures, "floor.meter_events.sdk.client_cpu_ms_per_event_above_floor", sdk - client);
    rows.push(
      row(
        floorName("the SDK (Meterline's v1 sink), node:http server", f.sdk),
        rate(f.sdk.requests, f.sdk.wallMs),
        sdk,
        sdkServer,
      ),
    );
  }
  for (const r of results) {
    if (r.mode !== "meter_events" || !("worker" in r.cpu.ms)) continue;
    const worker = perEvent(r.cpu.ms.worker ?? Number.NaN, r.reported);
    const emulator = perEvent(r.cpu.ms.emulator ?? Number.NaN, r.reported);
    put(
      figures,
      `${r.engine}.meter_events.cpu_ms_per_event_above_floor`,
      worker + emulator - (client + server),
    );
    rows.push(row(`Meterline on ${r.engine}: worker, emulator`, r.steadyPerS, worker, emulator));
  }
  return {
    title:
      "The transport floor of the v1 rows: bare node:http processes, then the SDK, one request per event",
    columns: [
      "sender, answerer",
      "requests/s",
      "CPU sender ms/ev",
      "CPU answerer ms/ev",
      "CPU both ms/ev",
      "sender above the floor ms/ev",
      "answerer above the floor ms/ev",
      "both above the floor ms/ev",
    ],
    rows,
    notes: [
      `Floor: ${num(f.requests)} POSTs (${floorSeconds(options)} s) at ${num(f.perSecond)}/s — the steady rate of the ${f.engine} v1 row —${f.warmup > 0 ? ` after a warm-up of ${num(f.warmup)} more at that rate (as long as the row's),` : ""} sent on schedule (bench/support/open-loop.ts) by a bare node:http client over keep-alive connections, a form-encoded body like the SDK's, each answer read and parsed; answered by a bare node:http server after ${options.latencyMs} ± ${options.jitterMs} ms with a meter event's JSON. No SDK, no database, no routing or validation. bench/floor.ts.`,
      "The SDK's row: the same load and the same bare server, sent by Meterline's v1 sink (src/reporter/sinks/meter-events.ts: the Stripe SDK's billing.meterEvents.create, with the client the worker builds, compiled) and nothing else of the worker. Its sender above the floor is what the SDK adds to each request; the worker's sender above the floor, less that, is the reporter and the outbox's client side (claims, marks, settles, the limiter).",
      "CPU per event of each process (user + system, /proc), from the moment both are loaded. A process that sleeps between requests pays for each wake-up, and on a virtual machine a wake-up costs much more than the request's own work: this is what any sender and any answerer pay here for one request per event at this rate, before doing anything. \"above the floor\": a row's CPU per event less the bare floor's. The emulator's answerer above the floor is its own work (routing, validation, idempotency, the ledger). Postgres is in none of these rows.",
      ...footer(),
    ],
  };
}
