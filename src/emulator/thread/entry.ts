/**
 * The emulator's thread (started by thread/start.ts): runs `startEmulator` on an event loop of
 * its own and answers the parent's few requests. Requests from Meterline come over HTTP, as
 * they would to Stripe; this channel only starts, steers and stops it.
 */
import { parentPort, workerData } from "node:worker_threads";
import { startEmulator } from "../index.ts";
import { type ThreadData, type ThreadReply, type ThreadRequest, threadError } from "./protocol.ts";

if (parentPort === null) throw new Error("thread/entry.ts runs in a worker thread only");
const parent = parentPort;
const reply = (message: ThreadReply) => parent.postMessage(message);
const { options } = workerData as ThreadData;

try {
  const emulator = await startEmulator(options);
  parent.on("message", (request: ThreadRequest) => {
    const answer = async () => {
      switch (request.type) {
        case "add-event-destination":
          emulator.addEventDestination(request.destination);
          return;
        case "save-state":
          await emulator.saveState();
          return;
        case "close":
          await emulator.close();
          return;
      }
    };
    answer().then(
      () => reply({ type: "done", id: request.id }),
      (error: unknown) => reply({ type: "error", id: request.id, error: threadError(error) }),
    );
  });
  reply({ type: "ready", url: emulator.url, port: emulator.port, apiKey: emulator.apiKey });
} catch (error) {
  // A taken port or a bad state file: the parent rejects its start with this error.
  reply({ type: "failed", error: threadError(error) });
  parent.close();
}
