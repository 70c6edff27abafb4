/**
 * The delivery modes, keyed by mode: which module and factory adapt each one, loaded when the
 * bench runs. The stream and usage-records sinks are being written alongside this bench, so a
 * mode whose module or factory is missing is skipped with the reason instead of failing the
 * run; once the file lands, the mode is measured with no change here (if its factory takes the
 * Stripe client, as fromMeterEvents does).
 */
import type Stripe from "stripe";
import type { DeliveryMode } from "../../src/db/schema/meters.ts";
import type { UsageSink } from "../../src/reporter/sinks/port.ts";

/** Where a mode's adapter lives. */
interface SinkSpec {
  /** Path from the repository root, for messages. */
  file: string;
  /** The module URL, relative to this file. */
  url: URL;
  /** The exported `fromX` factory. */
  factory: string;
  /** What the mode sends, for the table notes. */
  describe: string;
}

/** Every delivery mode the product declares, with its adapter's expected location. */
export const SINKS: Record<DeliveryMode, SinkSpec> = {
  meter_events: {
    file: "src/reporter/sinks/meter-events.ts",
    url: new URL("../../src/reporter/sinks/meter-events.ts", import.meta.url),
    factory: "fromMeterEvents",
    describe: "v1 POST /v1/billing/meter_events, one event per request",
  },
  meter_stream: {
    file: "src/reporter/sinks/meter-stream.ts",
    url: new URL("../../src/reporter/sinks/meter-stream.ts", import.meta.url),
    factory: "fromMeterStream",
    describe: "v2 POST /v2/billing/meter_event_stream, up to 100 events per request",
  },
  usage_records: {
    file: "src/reporter/sinks/usage-records.ts",
    url: new URL("../../src/reporter/sinks/usage-records.ts", import.meta.url),
    factory: "fromUsageRecords",
    describe: "legacy POST /v1/subscription_items/{id}/usage_records, one per request",
  },
};

/** A loaded sink, or why the mode cannot be measured. */
export type LoadedSink = { ok: true; sink: UsageSink } | { ok: false; why: string };

function isSink(value: unknown, mode: DeliveryMode): value is UsageSink {
  return (
    typeof value === "object" &&
    value !== null &&
    "mode" in value &&
    value.mode === mode &&
    "send" in value &&
    typeof value.send === "function"
  );
}

/** Imports a mode's adapter and builds it with `stripe`; never throws. */
export async function loadSink(mode: DeliveryMode, stripe: Stripe): Promise<LoadedSink> {
  const spec = SINKS[mode];
  let mod: unknown;
  try {
    mod = await import(spec.url.href);
  } catch (err) {
    const code =
      typeof err === "object" && err !== null && "code" in err ? String(err.code) : "error";
    return code === "ERR_MODULE_NOT_FOUND"
      ? { ok: false, why: `${spec.file} does not exist yet` }
      : { ok: false, why: `${spec.file} failed to load: ${String(err)}` };
  }
  const factory =
    typeof mod === "object" && mod !== null && spec.factory in mod
      ? (mod as Record<string, unknown>)[spec.factory]
      : undefined;
  if (typeof factory !== "function") {
    return { ok: false, why: `${spec.file} does not export ${spec.factory}()` };
  }
  if (factory.length > 1) {
    return {
      ok: false,
      why: `${spec.factory}() takes ${factory.length} parameters; the bench only knows how to pass the Stripe client`,
    };
  }
  try {
    const sink: unknown = factory(stripe);
    return isSink(sink, mode)
      ? { ok: true, sink }
      : { ok: false, why: `${spec.factory}(stripe) did not return a ${mode} UsageSink` };
  } catch (err) {
    return { ok: false, why: `${spec.factory}(stripe) threw: ${String(err)}` };
  }
}
