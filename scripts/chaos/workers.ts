import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { LogSink } from "./log-sink.ts";
import type { ChaosOptions } from "./options.ts";

/** The repository root: children run `node bin/meterline.js <command>` from here. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The CLI. */
export const BIN = fileURLToPath(new URL("../../bin/meterline.js", import.meta.url));
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
 * those of its replacement. While the pool is held (a clock jump, a deploy of another key),
 * nothing restarts a slot: the run decides when workers come back, and with what environment.
 */
export class WorkerPool {
  private readonly running = new Map<number, Running>();
  private readonly generations = new Map<number, number>();
  private readonly slotOf = new Map<string, number>();
  private stopping = false;
  private held = false;
  private stopped: Promise<void> | null = null;
  /** Crashes seen so far (each one was restarted). */
  readonly unexpectedExits: UnexpectedExit[] = [];

  constructor(
    private readonly size: number,
    /** Environment of every worker; METERLINE_WORKER_ID is added per incarnation. */
    private env: NodeJS.ProcessEnv,
    private readonly log: LogSink,
  ) {}

  /** Starts every empty slot and resolves once each says its reporter runs. */
  async start(): Promise<void> {
    const slots = Array.from({ length: this.size }, (_, slot) => slot);
    await Promise.all(slots.filter((s) => !this.running.has(s)).map((s) => this.spawn(s).ready));
  }

  /** Whether restarts are held (the run is between a stop of the pool and its start). */
  get isHeld(): boolean {
    return this.held;
  }

  /**
   * The id of a random worker whose reporter runs, or null when fewer than `minReady` do: a
   * freeze is only worth doing while another worker can take over the frozen one's events.
   */
  randomReadyId(minReady: number, random: () => number = Math.random): string | null {
    if (this.held) return null;
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
    const atMs = Date.now();
    await this.end(victim, "SIGKILL");
    return { id: victim.id, atMs };
  }

  /** Starts a new incarnation in a slot whose worker was killed; does not wait for it. */
  restart(id: string): void {
    const slot = this.slotOf.get(id);
    if (slot === undefined || this.stopping || this.held || this.running.has(slot)) return;
    this.spawn(slot).ready.catch((err: unknown) =>
      this.log.write(`restart of slot ${slot}: ${err}`),
    );
  }

  /**
   * Ends every worker and holds the slots empty until `resume`: SIGKILL (a crash of every
   * host at once) or SIGTERM (a deploy: in-flight sends settle). Returns the ids ended.
   */
  async halt(signal: "SIGKILL" | "SIGTERM"): Promise<string[]> {
    this.held = true;
    const all = [...this.running.values()];
    await Promise.all(all.map((w) => this.end(w, signal)));
    return all.map((w) => w.id);
  }

  /** Starts every slot again, with `env` when given (another key: a deploy), and waits for them. */
  async resume(env?: NodeJS.ProcessEnv): Promise<void> {
    if (env) this.env = env;
    this.held = false;
    await this.start();
  }

  /** SIGTERM to every worker (a graceful stop), SIGKILL to those still up after the grace. */
  stop(): Promise<void> {
    this.stopping = true;
    this.stopped ??= Promise.all(
      [...this.running.values()].map((w) => this.end(w, "SIGTERM")),
    ).then(() => {});
    return this.stopped;
  }

  private async end(w: Running, signal: "SIGKILL" | "SIGTERM"): Promise<void> {
    w.expectedExit = true;
    w.child.kill(signal);
    const timer =
      signal === "SIGTERM" ? setTimeout(() => w.child.kill("SIGKILL"), STOP_GRACE_MS) : null;
    await w.exited;
    if (timer) clearTimeout(timer);
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
        this.log.write(`[${id}] exited (code ${code}, signal ${signal})`);
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
        this.log.write(`[${id}] ${line}`);
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
}

/** The environment of every worker: the run's database and Stripe, and short timings. */
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
    LOG_LEVEL: process.env.CHAOS_WORKER_LOG_LEVEL ?? "warn",
  };
}
