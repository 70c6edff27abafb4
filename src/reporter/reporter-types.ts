import type { Config } from "../config.ts";
import type { Db } from "../db/connect.ts";
import type { DeliveryMode } from "../db/schema/meters.ts";
import type { AccountProbe } from "./account-probe.ts";
import type { Halt } from "./circuit-gate.ts";
import type { AimdLimiter } from "./limiter.ts";
import type { ReporterLogger } from "./logger.ts";
import type { ReporterMetrics } from "./reporter-metrics.ts";
import type { UsageSink } from "./sinks/port.ts";
import type { SystemicGuard } from "./systemic.ts";

/** What the reporter needs from the process that runs it. */
export interface ReporterDeps {
  db: Db;
  settings: Config["worker"];
  /** The adapter for a meter's delivery mode; undefined when this process cannot send it. */
  sinkFor: (mode: DeliveryMode) => UsageSink | undefined;
  logger: ReporterLogger;
  /** Cross-customer "systemic" detection; default: the detector with the settings' thresholds. */
  systemic?: SystemicGuard;
  /** Source of jitter; default Math.random. */
  random?: () => number;
  /** A harmless authenticated call, so a halted account resumes even with an empty queue. */
  probeAccount?: AccountProbe;
  /** The process's shared rate limiter (AIMD); none: no limit but 429 pauses. */
  limiter?: AimdLimiter | null;
  /** Where requests and outcomes are counted (metrics/process-metrics.ts); default: nowhere. */
  metrics?: ReporterMetrics;
}

/** Why the reporter is not sending, when it is not. */
export interface ReporterStatus {
  /** Set while a circuit is open (the account, or a systemic rejection): scope, why, since when. */
  halted: Halt | null;
}

/** A running reporter loop. */
export interface Reporter {
  /** Stops claiming, lets in-flight sends finish (within the budget), gives back unsent leases. */
  stop(): Promise<void>;
  /** Whether it is halted and why (the app's /readyz shows it). */
  status(): ReporterStatus;
  /** Resolves the next time nothing is due and nothing is held (demo, tests, `meterline` CLI). */
  drained(): Promise<void>;
}
