/**
 * The Stripe emulator in a process of its own, started by bench/support/emulator.ts. Stripe is
 * another machine in production: serving it from the worker's own event loop would bill the
 * emulator's CPU time to Meterline and flatter nothing. Speaks a tiny request/response protocol
 * over the IPC channel.
 *
 * The emulator runs compiled, from dist/, as `npm start` runs it: this process is started
 * through tsx (it is bench code), and the emulator's sources loaded through tsx too would carry
 * what tsx adds to every module (esbuild's name-keeping wrappers, source maps turned on), which
 * the shipped emulator does not.
 */
// @ts-expect-error scripts/build.js is plain JavaScript, with no declarations.
import { ensureBuilt } from "../../scripts/build.js";
import type * as Emulator from "../../src/emulator/index.ts";
import type { EmulatorReply, EmulatorRequest, UsageCounts } from "./emulator-protocol.ts";

const problem: string | null = ensureBuilt();
if (problem !== null) throw new Error(`the build failed: ${problem}`);
const { startEmulator }: typeof Emulator = await import(
  new URL("../../dist/emulator/index.js", import.meta.url).href
);

const options = JSON.parse(process.argv[2] ?? "{}") as Emulator.EmulatorOptions;
// What "Stripe" answered on each usage endpoint, counted by the emulator itself: the 429s of a
// run come from here, not from what the workers wrote down.
const usage: Record<string, UsageCounts> = {};
const emulator = await startEmulator(
  {
    ...options,
    port: 0,
    // No thin-event deliveries: nobody listens, and the timer would only cost CPU.
    errorReportIntervalMs: 0,
  },
  {
    onUsageRequest: (r) => {
      const c = usage[r.group] ?? { requests: 0, throttled: 0, applied: 0, appliedEvents: 0 };
      usage[r.group] = c;
      c.requests++;
      if (r.status === 429) c.throttled++;
      if (r.applied) {
        c.applied++;
        // A stream request carries up to 100 events, all accepted or none.
        const events = (r.body as { events?: unknown } | null)?.events;
        c.appliedEvents += Array.isArray(events) ? events.length : 1;
      }
    },
  },
);

function reply(message: EmulatorReply): void {
  process.send?.(message);
}

process.on("message", (raw: EmulatorRequest) => {
  switch (raw.type) {
    case "rate-limits":
      emulator.setRateLimits(raw.limits);
      reply({ type: "ok", id: raw.id });
      return;
    case "ledger": {
      const ledger = emulator.ledger();
      reply({
        type: "ledger",
        id: raw.id,
        accepted: ledger.events.length,
        counted: ledger.events.filter((e) => e.counted).length,
        usageRecords: ledger.usage_records.length,
      });
      return;
    }
    case "usage":
      reply({ type: "usage", id: raw.id, usage: structuredClone(usage) });
      return;
    case "close":
      void emulator.close().then(() => {
        reply({ type: "ok", id: raw.id });
        process.disconnect();
      });
      return;
  }
});
// The parent died without saying so: do not linger.
process.on("disconnect", () => process.exit(0));

reply({ type: "ready", url: emulator.url, apiKey: emulator.apiKey });
