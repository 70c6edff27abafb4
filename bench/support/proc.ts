/**
 * Memory of another process, from Linux's /proc/<pid>/status: VmHWM is the kernel's own peak
 * resident set, so a short spike between two samples is still caught.
 */
import { readFileSync } from "node:fs";

/** Resident memory of a process, bytes. */
export interface ProcMemory {
  /** Peak resident set size so far (VmHWM). */
  peakRss: number;
  /** Current resident set size (VmRSS). */
  rss: number;
}

/** Parses the VmHWM and VmRSS lines of a /proc status file (kB) into bytes; pure. */
export function parseProcStatus(text: string): ProcMemory | null {
  const kb = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(text);
    return match?.[1] === undefined ? null : Number(match[1]) * 1024;
  };
  const peakRss = kb("VmHWM");
  const rss = kb("VmRSS");
  return peakRss === null || rss === null ? null : { peakRss, rss };
}

/** Reads a live process's memory; null when it has exited or /proc is not there. */
export function readProcMemory(pid: number): ProcMemory | null {
  try {
    return parseProcStatus(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return null;
  }
}
