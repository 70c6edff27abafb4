import pino, { type Logger } from "pino";
import type { Config } from "../config.ts";
import { prettyLine } from "./pretty.ts";

/** Where log lines go and how they look: a person's terminal, or a collector reading JSON. */
export interface LogOutput {
  /** Human-readable lines (a terminal) rather than one JSON object per line. */
  pretty: boolean;
  write(line: string): void;
}

/** Standard output: human-readable when it is a terminal, JSON otherwise (a file, a pipe, a collector). */
export function stdoutLog(): LogOutput {
  return { pretty: process.stdout.isTTY === true, write: (line) => process.stdout.write(line) };
}

/**
 * The process's logger. Every line carries the worker id once (its base; children and log calls
 * must not repeat it), and pino's pid and hostname are left out: the worker id names both.
 */
export function createLogger(
  config: Pick<Config, "logLevel"> & { worker: Pick<Config["worker"], "id"> },
  output: LogOutput = stdoutLog(),
): Logger {
  const write = output.pretty
    ? (line: string) => output.write(prettyLine(line))
    : (line: string) => output.write(line);
  return pino({ level: config.logLevel, base: { worker: config.worker.id } }, { write });
}
