/**
 * The emulator on a worker thread of its own, for `meterline start`: its requests, its ledger
 * and its state file's writes then never hold up the API's and the reporter's event loop, and
 * on two cores it runs beside them. A thread rather than a child process: it cannot outlive
 * Meterline (even a SIGKILL ends it), it gets no terminal signals of its own (the main thread
 * decides the order of shutdown), it costs one V8 isolate rather than a second Node (and tsx)
 * runtime, and the process, its pid and `runtime.json` stay one, as before.
 */
import { Worker } from "node:worker_threads";
import type { EventDestination } from "../context.ts";
import type { EmulatorOptions } from "../index.ts";
import {
  fromThreadError,
  type ThreadData,
  type ThreadReply,
  type ThreadRequest,
} from "./protocol.ts";

/** The emulator on its thread: what `start` needs of it, over the thread's channel. */
export interface EmulatorThread {
  /** Base URL, e.g. http://127.0.0.1:12111. */
  url: string;
  /** The port actually bound. */
  port: number;
  /** The first configured API key. */
  apiKey: string;
  /** Register an event destination for thin events. */
  addEventDestination(destination: EventDestination): Promise<void>;
  /** Rewrite the state file now (no-op without `stateFile`). */
  saveState(): Promise<void>;
  /** Stop it (its state file written) and end the thread; resolves once the thread is gone. */
  close(): Promise<void>;
  /** Resolves only if the thread ends without `close()`: with what ended it. */
  lost: Promise<Error>;
}

/** A request without its id (assigned when sent); distributes over the union. */
type Body<T> = T extends unknown ? Omit<T, "id"> : never;

/**
 * What the thread runs. Compiled (dist/…/thread/start.js) the entry is the `entry.js` beside
 * this file. From source (tsx, vitest) this module is `start.ts` and the entry `entry.ts`; a
 * worker thread does not inherit the loader hooks of the thread that starts it, so it runs a
 * two-line module that registers tsx first (tsx resolved from here), then imports the entry.
 */
function threadScript(): URL {
  const fromSource = import.meta.url.endsWith(".ts");
  const entry = new URL(fromSource ? "./entry.ts" : "./entry.js", import.meta.url);
  if (!fromSource) return entry;
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(entry.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}

/**
 * Start the emulator on its own thread and resolve once it listens. Rejects as `startEmulator`
 * does (a taken port: an error with code EADDRINUSE), the thread then gone. Options are plain
 * data; the test seams of `startEmulator` (clock, random, observers) are in-process only.
 */
export async function startEmulatorThread(options: EmulatorOptions = {}): Promise<EmulatorThread> {
  const data: ThreadData = { options };
  const worker = new Worker(threadScript(), { workerData: data });
  const answers = new Map<number, (reply: ThreadReply) => void>();
  let nextId = 1;
  let closing = false;
  let gone = false;
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  let onLost: (error: Error) => void = () => {};
  const lost = new Promise<Error>((resolve) => {
    onLost = resolve;
  });

  const ready = new Promise<Extract<ThreadReply, { type: "ready" }>>((resolve, reject) => {
    worker.on("message", (message: ThreadReply) => {
      if (message.type === "ready") resolve(message);
      else if (message.type === "failed") reject(fromThreadError(message.error));
      else answers.get(message.id)?.(message);
    });
    worker.on("error", (error) => {
      reject(error);
      if (!closing) onLost(error);
    });
    void exited.then((code) => {
      gone = true;
      const error = new Error(`the emulator thread exited (code ${code})`);
      reject(error);
      // Whatever is still waiting for an answer will not get one.
      for (const answer of answers.values()) {
        answer({ type: "error", id: 0, error: { message: error.message } });
      }
      if (!closing) onLost(error);
    });
  });
  let started: Extract<ThreadReply, { type: "ready" }>;
  try {
    started = await ready;
  } catch (error) {
    closing = true;
    await worker.terminate();
    throw error;
  }

  function call(body: Body<ThreadRequest>): Promise<void> {
    const id = nextId++;
    if (gone) return Promise.reject(new Error("the emulator thread has exited"));
    return new Promise((resolve, reject) => {
      answers.set(id, (reply) => {
        answers.delete(id);
        if (reply.type === "error") reject(fromThreadError(reply.error));
        else resolve();
      });
      worker.postMessage({ ...body, id });
    });
  }

  let closed: Promise<void> | null = null;
  return {
    url: started.url,
    port: started.port,
    apiKey: started.apiKey,
    addEventDestination: (destination) => call({ type: "add-event-destination", destination }),
    saveState: () => call({ type: "save-state" }),
    close() {
      closed ??= (async () => {
        closing = true;
        // A thread already gone has nothing left to close (`lost` said why).
        if (gone) return;
        try {
          await call({ type: "close" });
        } finally {
          // Its server is closed and its journal written: nothing on it is worth waiting for.
          await worker.terminate();
        }
      })();
      return closed;
    },
    lost,
  };
}
