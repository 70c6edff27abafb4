import type { Config } from "../config.ts";
import type { Db } from "../db/connect.ts";
import type { WaitReason } from "../outbox/reasons.ts";
import { haltReason, haltWait, probeClears, takeBackSystemic } from "./circuit-actions.ts";
import type { CircuitGate } from "./circuit-gate.ts";
import type { Outcome } from "./classify.ts";
import type { Verdict } from "./judge.ts";
import type { ReporterLogger } from "./logger.ts";
import type { SendLimits } from "./send-limits.ts";
import type { SettleBuffer } from "./settle-buffer.ts";
import type { UsageSink } from "./sinks/port.ts";
import type { ThrottlePause } from "./throttle-pause.ts";

/** What the reactor needs from its worker. */
export interface ReactorDeps {
  db: Db;
  owner: string;
  settings: Config["worker"];
  gate: CircuitGate;
  buffer: SettleBuffer;
  logger: ReporterLogger;
  /** The rate limits requests are sent under (send-limits.ts). */
  limits: SendLimits;
  pause: ThrottlePause;
  /** A circuit this worker just opened: stop sending, give back what is queued (wait reason). */
  halted(waitReason: WaitReason | undefined): void;
  /** A probe went through and closed the circuit: send again. */
  resumed(): void;
}

/**
 * What one request's verdict means for the whole worker, beyond its events: open a circuit for
 * every worker (a 401, a systemic rejection, which also takes back its window's dead letters),
 * close one after a probe's answer showed its cause gone (circuit-actions.ts, probeClears), or
 * slow down after a 429. One reaction per request: a throttled batch of 100 is one throttle,
 * not a hundred.
 */
export class CircuitReactor {
  constructor(private readonly d: ReactorDeps) {}

  /** Reacts to the verdict of one request sent through `sink`. */
  async react(verdict: Verdict, probe: boolean, sink: UsageSink): Promise<void> {
    const { outcome } = verdict;
    const { gate } = this.d;
    if (outcome.kind === "halt") {
      await this.enterHalt(verdict.haltScope ?? "account", outcome, verdict.systemicCode);
      return;
    }
    if (probe && gate.halted && probeClears(gate.halted.scope, outcome)) {
      await gate.close(outcome.rule);
      this.d.resumed();
    }
    // A 429 under a rate limit lowers that limit's rate and empties its bucket: that is the
    // backoff, for every request of the worker at once. A worker-wide pause on top (up to 2 s
    // after one 429) would cost more than the window that said no. Without a limit (an
    // emulator) the pause is the backoff, longer on every one in a row.
    const throttled = outcome.kind === "throttled";
    if (throttled && this.d.limits.limited) {
      this.d.limits.throttled(sink, Date.now());
      return;
    }
    this.d.pause.record(throttled, outcome.rule);
  }

  /** Opens the circuit of `scope` for every worker; a systemic one also takes back its dead letters. */
  private async enterHalt(
    scope: string,
    outcome: Extract<Outcome, { kind: "halt" }>,
    systemicCode: string | null,
  ): Promise<void> {
    const { gate, db, owner, buffer, settings, logger } = this.d;
    if (await gate.open(scope, haltReason(scope, outcome))) this.d.halted(haltWait(gate.halted));
    if (systemicCode !== null) {
      await takeBackSystemic(db, owner, buffer, settings, logger, systemicCode);
    }
  }
}
