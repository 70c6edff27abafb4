/**
 * Meterline as production runs it: `node bin/meterline.js <command>` in a process of its own,
 * so its CPU and memory are its own (not the bench's) and the entry point is the one that
 * ships. The environment is built from scratch for Meterline's variables: a DATABASE_URL or
 * METERLINE_* in the caller's shell must not leak into a run.
 */
import { type ChildProcess, execFile, fork, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
/** The entry point that ships (package.json "bin"). */
export const METERLINE_BIN = join(root, "bin/meterline.js");

/** A running Meterline process. */
export interface MeterlineProcess {
  pid: number;
  /** The API's base URL, when the command serves it. */
  url: string | null;
  /** The last lines it wrote (stdout and stderr), for a failure's message. */
  tail(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** A free TCP port of 127.0.0.1 (closed again at once: the child binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Extra node flags for the processes the bench spawns, from BENCH_NODE_ARGS (say
 * "--cpu-prof --cpu-prof-dir=/tmp/prof": node refuses --cpu-prof in NODE_OPTIONS).
 */
export function benchNodeArgs(): string[] {
  return (process.env.BENCH_NODE_ARGS ?? "").split(/\s+/).filter((a) => a !== "");
}

/**
 * Forks one of the bench's own TypeScript scripts (the emulator, the transport floor's
 * processes) with BENCH_NODE_ARGS: its stderr shows in the bench's, and it talks over IPC.
 */
export function forkBenchScript(path: string, args: string[]): ChildProcess {
  return fork(path, args, {
    execArgv: [...benchNodeArgs(), "--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
}

/** The parent's environment without anything that configures Meterline, Stripe or Postgres. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(METERLINE_|STRIPE_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|PG)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/**
 * Spawns `meterline <command>` with `env`. With `api`, picks a port and resolves once
 * /healthz answers; otherwise once the process has started. Throws (and kills it) if it exits
 * or does not come up within a minute.
 */
export async function spawnMeterline(
  command: "start" | "serve" | "worker",
  env: Record<string, string>,
  options: { api: boolean },
): Promise<MeterlineProcess> {
  const port = options.api ? await freePort() : 0;
  const child: ChildProcess = spawn(
    process.execPath,
    [...benchNodeArgs(), METERLINE_BIN, command],
    {
      cwd: root,
      env: {
        ...baseEnv(),
        HOST: "127.0.0.1",
        PORT: String(port),
        LOG_LEVEL: "warn",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-2_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start meterline ${command}`);
  const url = options.api ? `http://127.0.0.1:${port}` : null;

  const proc: MeterlineProcess = {
    pid,
    url,
    tail: () => tail.trim(),
    exited: hasExited,
    async stop(graceMs = 20_000) {
      if (hasExited()) return;
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      child.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    },
  };
  if (url === null) return proc;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (hasExited()) {
      throw new Error(`meterline ${command} exited with ${child.exitCode}: ${proc.tail()}`);
    }
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return proc;
    if (Date.now() > deadline) {
      await proc.stop(1_000);
      throw new Error(`meterline ${command} did not answer /healthz within 60 s: ${proc.tail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs `meterline --help` once: a clear message when bin/ cannot run (e.g. no build yet). */
export function checkMeterlineRuns(): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(process.execPath, [METERLINE_BIN, "--help"], { cwd: root }, (err, _out, stderr) => {
      resolve(
        err === null
          ? null
          : `bin/meterline.js does not run (${(stderr || String(err)).trim().slice(0, 300)}); if it runs a compiled build, run "npm run build" first`,
      );
    });
  });
}

/** Newest modification time under `dir` (ms), or null when it does not exist. */
function newest(dir: string): number | null {
  if (!existsSync(dir)) return null;
  let max = 0;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else max = Math.max(max, statSync(path).mtimeMs);
    }
  };
  walk(dir);
  return max;
}

/**
 * What bin/meterline.js runs, for the machine line: the compiled build (and whether src/ has
 * changed since it was built: then the figures are the build's, not the edits') or the
 * TypeScript sources through tsx.
 */
export function describeEntry(): string {
  let text = "";
  try {
    text = readFileSync(METERLINE_BIN, "utf8");
  } catch {
    return "bin/meterline.js missing";
  }
  if (/dist\//.test(text)) {
    const built = newest(join(root, "dist"));
    if (built === null) return "bin/meterline.js → dist/ (not built)";
    const src = newest(join(root, "src")) ?? 0;
    const stamp = new Date(built).toISOString().slice(0, 19);
    // A bin that rebuilds a stale dist/ itself runs the current sources whatever the stamp says.
    const stale = /ensureBuilt/.test(text)
      ? src > built
        ? " (src/ changed since: bin rebuilds it at the first spawn)"
        : ""
      : src > built
        ? " (src/ changed since: rebuild to measure it)"
        : "";
    return `bin/meterline.js → dist/ built ${stamp}Z${stale}`;
  }
  if (/tsx/.test(text)) return "bin/meterline.js → src/ through tsx";
  return "bin/meterline.js";
}
