/** Messages between the bench and its emulator child process (bench/support/emulator-child.ts). */
import type { RateLimits } from "../../src/emulator/index.ts";

/** What the bench asks the emulator process. */
export type EmulatorRequest =
  | { type: "rate-limits"; id: number; limits: RateLimits }
  | { type: "ledger"; id: number }
  | { type: "usage"; id: number }
  | { type: "close"; id: number };

/** What the emulator process answers (`ready` once, unasked). */
export type EmulatorReply =
  | { type: "ready"; url: string; apiKey: string }
  | { type: "ok"; id: number }
  | { type: "ledger"; id: number; accepted: number; counted: number; usageRecords: number }
  | { type: "usage"; id: number; usage: Record<string, UsageCounts> };

/** Requests to one usage endpoint group, as the emulator answered them. */
export interface UsageCounts {
  /** Requests that reached it. */
  requests: number;
  /** Answered 429 (rate limited). */
  throttled: number;
  /** Did their work (an event or usage record accepted). */
  applied: number;
  /** Events those requests carried (a stream request up to 100): what reached "Stripe". */
  appliedEvents: number;
}
