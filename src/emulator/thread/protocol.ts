/** Messages between `startEmulatorThread` (thread/start.ts) and the emulator's thread (thread/entry.ts). */
import type { EventDestination } from "../context.ts";
import type { EmulatorOptions } from "../index.ts";

/** What the thread is started with (its `workerData`). */
export interface ThreadData {
  /** Passed to `startEmulator` as they are: plain data, cloned across. */
  options: EmulatorOptions;
}

/** What the parent asks the thread; each is answered by `done` or `error` with its id. */
export type ThreadRequest =
  | { id: number; type: "add-event-destination"; destination: EventDestination }
  | { id: number; type: "save-state" }
  | { id: number; type: "close" };

/** An error as it crosses the thread boundary. */
export interface ThreadError {
  message: string;
  /** Node's error code (EADDRINUSE for a taken port), when it had one. */
  code?: string;
}

/** What the thread says: `ready` or `failed` once, unasked; then one answer per request. */
export type ThreadReply =
  | { type: "ready"; url: string; port: number; apiKey: string }
  | { type: "failed"; error: ThreadError }
  | { type: "done"; id: number }
  | { type: "error"; id: number; error: ThreadError };

/** Any thrown value as a ThreadError. */
export function threadError(error: unknown): ThreadError {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined;
  return code === undefined ? { message: error.message } : { message: error.message, code };
}

/** A ThreadError as an Error again, its code kept (callers test `code === "EADDRINUSE"`). */
export function fromThreadError(error: ThreadError): Error {
  return Object.assign(
    new Error(error.message),
    error.code === undefined ? {} : { code: error.code },
  );
}
