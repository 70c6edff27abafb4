import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ChaosOptions } from "./options.ts";

/** The repository root: workers run `node bin/meterline.js worker` from here. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = fileURLToPath(new URL("../../bin/meterline.js", import.meta.url));
/** What `meterline worker` prints once its reporter runs. */
const READY = "reporter running";
/** A worker must be up by then (tsx compiles the sources on a cold start). */
const START_TIMEOUT_MS = 60_000;
/** SIGTERM lets in-flight sends settle; after this long the worker is SIGKILLed. */
const STOP_GRACE_MS = 15_000;

interface Running {
  slot: number;
  id: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Set before we signal it, so its exit is not counted as a crash. */
  expectedExit: boolean;
  /** Set once it said its reporter runs. */
  ready: boolean;
}

/** A worker that exited without being told to: a crash worth reading the log for. */
export interface UnexpectedExit {
  /** The incarnation that died. */
  workerId: string;
  /** Its exit code, if it exited. */
  code: number | null;
  /** The signal that ended it, if one did. */
  signal: string | null;
  /** When, ms since epoch. */
  atMs: number;
}

/**
 * A fixed number of `meterline worker` child processes. Each incarnation has its own id
 * (`chaos-w<slot>-g<generation>`), so the leases a killed worker held can be told apart from
 * those of its replacement.
 */
export class WorkerPool {
  private readonly running = new Map<number, Running>();
  private readonly generations = new Map<number, number>();
  private readonly slotOf = new Map<string, number>();
  private readonly log: WriteStream | null;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  /** Crashes seen so far (each one was restarted). */
  readonly unexpectedExits: UnexpectedExit[] = [];

  constructor(
    private readonly size: number,
    /** Environment of every worker; METERLINE_WORKER_ID is added per incarnation. */
    private readonly env: NodeJS.ProcessEnv,
    logFile: string | null,
  ) {
    this.log = logFile ? createWriteStream(logFile, { flags: "a" }) : null;
  }

  /** Starts every worker and resolves once each says its reporter runs. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.size }, (_, slot) => this.spawn(slot).ready));
  }

  /**
   * The id of a random worker whose reporter runs, or null when fewer than `minReady` do: a
   * freeze is only worth doing while another worker can take over the frozen one's events.
   */
  randomReadyId(minReady: number, random: () => number = Math.random): string | null {
    const ready = [...this.running.values()].filter((w) => w.ready);
    if (ready.length < minReady) return null;
    return ready[Math.floor(random() * ready.length)]?.id ?? null;
  }

  /** Sends a signal to a running worker; false when it no longer runs. */
  signal(id: string, signal: NodeJS.Signals): boolean {
    const worker = [...this.running.values()].find((w) => w.id === id);
    return worker ? worker.child.kill(signal) : false;
  }

  /**
   * SIGKILLs a random worker whose reporter runs (killing one still starting would only keep
   * the pool below strength) and resolves, with its id and the kill time, once the process is
   * gone: from then on nothing it held can change but by lease expiry. Null when none runs.
   */
  async killRandom(
    random: () => number = Math.random,
  ): Promise<{ id: string; atMs: number } | null> {
    const id = this.randomReadyId(1, random);
    const victim = [...this.running.values()].find((w) => w.id === id);
    if (!victim) return null;
    victim.expectedExit = true;
    const atMs = Date.now();
    victim.child.kill("SIGKILL");
    await victim.exited;
    return { id: victim.id, atMs };
  }

  /** Starts a new incarnation in a slot whose worker was killed; does not wait for it. */
  restart(id: string): void {
    const slot = this.slotOf.get(id);
    if (slot === undefined || this.stopping || this.running.has(slot)) return;
    this.spawn(slot).ready.catch((err: unknown) => this.write(`restart of slot ${slot}: ${err}`));
  }

  /** SIGTERM to every worker (a graceful stop), SIGKILL to those still up after the grace. */
  stop(): Promise<void> {
    this.stopped ??= this.stopAll();
    return this.stopped;
  }

  private async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.running.values()].map(async (w) => {
        w.expectedExit = true;
        w.child.kill("SIGTERM");
        const timer = setTimeout(() => w.child.kill("SIGKILL"), STOP_GRACE_MS);
        await w.exited;
        clearTimeout(timer);
      }),
    );
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
  }

  private spawn(slot: number): { ready: Promise<void> } {
    const generation = (this.generations.get(slot) ?? 0) + 1;
    this.generations.set(slot, generation);
    const id = `chaos-w${slot}-g${generation}`;
    this.slotOf.set(id, slot);
    const child = spawn(process.execPath, [BIN, "worker"], {
      cwd: ROOT,
      env: { ...this.env, METERLINE_WORKER_ID: id },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => {
      child.once("exit", (code, signal) => {
        if (this.running.get(slot) === worker) this.running.delete(slot);
        this.write(`[${id}] exited (code ${code}, signal ${signal})`);
        if (!worker.expectedExit && !this.stopping) {
          this.unexpectedExits.push({ workerId: id, code, signal, atMs: Date.now() });
          // Keep the pool at its size; the crash is reported, not hidden.
          setTimeout(() => this.restart(id), 1_000);
        }
        resolve(code);
      });
    });
    const worker: Running = { slot, id, child, exited, expectedExit: false, ready: false };
    this.running.set(slot, worker);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${id} did not start within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const onLine = (line: string) => {
        this.write(`[${id}] ${line}`);
        if (line.includes(READY)) {
          worker.ready = true;
          clearTimeout(timer);
          resolve();
        }
      };
      // Both streams are read to the end: a full pipe would block the worker.
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) createInterface({ input: stream }).on("line", onLine);
      }
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`worker ${id} exited (code ${code}) before it started`));
      });
    });
    // A restart nobody awaits must not become an unhandled rejection.
    ready.catch(() => {});
    return { ready };
  }

  private write(line: string): void {
    this.log?.write(`${new Date().toISOString()} ${line}\n`);
  }
}

/** The environment of every worker: the run's database and emulator, and short timings. */
export function workerEnvironment(
  options: ChaosOptions,
  databaseUrl: string,
  stripeBase: string,
  stripeKey: string,
): NodeJS.ProcessEnv {
  const w = options.worker;
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    STRIPE_SECRET_KEY: stripeKey,
    STRIPE_API_BASE: stripeBase,
    METERLINE_LEASE_MS: String(w.leaseMs),
    METERLINE_POLL_MS: String(w.pollMs),
    METERLINE_BACKOFF_BASE_MS: String(w.backoffBaseMs),
    METERLINE_BACKOFF_MAX_MS: String(w.backoffMaxMs),
    METERLINE_HALT_PROBE_MS: String(w.haltProbeMs),
    METERLINE_REQUEST_TIMEOUT_MS: String(w.requestTimeoutMs),
    // Unlinked customers' events fail at once: one of the poison kinds.
    METERLINE_UNLINKED_HOLD_HOURS: "0",
    // Warnings and errors only (dead letters, halts, lost leases): the log stays readable.
    LOG_LEVEL: "warn",
  };
}
