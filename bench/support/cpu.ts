/**
 * CPU time per process, the figure that stays stable on a shared machine. Processes the bench
 * spawned are read from Linux's /proc/<pid>/stat (utime + stime: every thread of the process,
 * the same kernel accounting process.cpuUsage reads for itself); the bench process from
 * process.cpuUsage. Postgres backends: see postgres-cpu.ts.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticks: number | null = null;

/** Clock ticks per second of /proc's CPU fields (USER_HZ, almost always 100). */
export function ticksPerSecond(): number {
  if (ticks !== null) return ticks;
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    ticks = Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    ticks = 100;
  }
  return ticks;
}

/**
 * CPU milliseconds (user + system) from the text of /proc/<pid>/stat; null when it does not
 * parse. The command name (field 2) may hold spaces and parentheses: fields are counted from
 * the last ")". Pure.
 */
export function parseProcStat(text: string, hz: number): number | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  // After ") ": field 3 (state) is index 0, so utime (field 14) is 11 and stime (15) is 12.
  const fields = text.slice(close + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return ((utime + stime) * 1000) / hz;
}

/** CPU ms a live process has used so far; null once it has exited or without /proc. */
export function processCpuMs(pid: number): number | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"), ticksPerSecond());
  } catch {
    return null;
  }
}

/** CPU ms this process has used so far (every thread: PGlite's WASM and libuv's pool too). */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** A named process to account for: a pid, or "self" for the bench process. */
export type Accounted = number | "self";

/** CPU ms of each named process between start() and stop(); NaN for one that could not be read. */
export interface ProcessCpu {
  stop(): Record<string, number>;
}

/** Starts counting the CPU of `processes` (name → pid or "self") from now. */
export function startProcessCpu(processes: Record<string, Accounted>): ProcessCpu {
  const read = (who: Accounted) => (who === "self" ? selfCpuMs() : processCpuMs(who));
  const start = new Map(Object.entries(processes).map(([name, who]) => [name, read(who)]));
  return {
    stop() {
      const out: Record<string, number> = {};
      for (const [name, who] of Object.entries(processes)) {
        const before = start.get(name);
        const now = read(who);
        out[name] = before == null || now === null ? Number.NaN : now - before;
      }
      return out;
    },
  };
}
