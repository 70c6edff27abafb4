export {
  type ClientOptions,
  type ClientStats,
  type CloseResult,
  MeterlineClient,
} from "./client.ts";
export {
  EventRejectedError,
  type MeterlineError,
  RequestRefusedError,
  TransientError,
} from "./errors.ts";
export type { TrackInput, WireEvent } from "./types.ts";
export { uuidv7 } from "./uuidv7.ts";
