/**
 * The Stripe emulator in a process of its own, started by bench/support/emulator.ts. Stripe is
 * another machine in production: serving it from the worker's own event loop would bill the
 * emulator's CPU time to Meterline and flatter nothing. Speaks a tiny request/response protocol
 * over the IPC channel.
 */
import { type EmulatorOptions, startEmulator } from "../../src/emulator/index.ts";
import type { EmulatorReply, EmulatorRequest } from "./emulator-protocol.ts";

const options = JSON.parse(process.argv[2] ?? "{}") as EmulatorOptions;
const emulator = await startEmulator({
  ...options,
  port: 0,
  // No thin-event deliveries: nobody listens, and the timer would only cost CPU.
  errorReportIntervalMs: 0,
});

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
