/**
 * The model of one run: what was ingested, for whom, and what happened around it (kills, clock
 * jumps, faults, the key). From it the checks derive what each event should end as; nothing in
 * it is read from what the workers write.
 */
import type { DeliveryMode } from "../../src/db/schema/meters.ts";
import type { EndpointGroup } from "../../src/emulator/index.ts";

/** The delivery modes, one meter each per run. */
export const MODES: readonly DeliveryMode[] = ["meter_events", "meter_stream", "usage_records"];

/** The emulator's fault group of each mode. */
export const GROUP_OF: Record<DeliveryMode, EndpointGroup> = {
  meter_events: "meter_events",
  meter_stream: "meter_event_stream",
  usage_records: "usage_records",
};

/** How many healthy customers a run has (fewer than the systemic threshold of 5). */
export const HEALTHY_CUSTOMERS = 3;

/**
 * Whose event it is:
 * - healthy: linked to a live Stripe customer (and, for usage records, its subscription item);
 * - unlinked: no Stripe customer id yet, never linked in the run;
 * - deleted: deleted in Meterline before the run;
 * - ghost: linked to a Stripe customer id Stripe does not know: meter events are accepted (200)
 *   and rejected asynchronously; usage records go to an item Stripe does not know (404);
 * - misfiled: live in Stripe, but its usage records item is set wrong in Meterline until
 *   FixItem: its usage records fail as resource_missing, and their advice ("set the right item,
 *   then retry the event") must then work. Its meter events are healthy.
 */
export type Kind = "healthy" | "unlinked" | "deleted" | "ghost" | "misfiled";

/** Whether the event must end like a healthy one (a misfiled customer's meter events do). */
export function behavesHealthy(e: Pick<ModelEvent, "kind" | "mode">): boolean {
  return e.kind === "healthy" || (e.kind === "misfiled" && e.mode !== "usage_records");
}

/** One ingested event, as the model knows it. */
export interface ModelEvent {
  id: string;
  kind: Kind;
  mode: DeliveryMode;
  customerKey: string;
  value: number;
  /** Wall clock when it was ingested. */
  ingestedAtMs: number;
  /** The model's jumped time, kills and jumps when it was ingested. */
  jumpedMsAtIngest: number;
  killsAtIngest: number;
  jumpsAtIngest: number;
}

/** Fault settings the model may set (a subset of the emulator's). */
export interface FaultSpec {
  p500: number;
  pAmbiguous: number;
  p429: number;
  pTimeout: number;
  latencyMs: number;
}

/** Where faults are set: every usage endpoint, or one group. */
export type FaultTarget = "global" | EndpointGroup;

/** The model's state. */
export interface Model {
  events: ModelEvent[];
  /** Hours let pass so far (JumpClock), in ms, and how many jumps. */
  jumpedMs: number;
  jumps: number;
  /** Live workers, and how many were killed so far. */
  workers: number;
  kills: number;
  keyRevoked: boolean;
  /** Fault targets currently set. */
  faults: Set<FaultTarget>;
  /** Ghost events per mode (Stripe names at most 5 rejections per code and meter per report). */
  ghosts: Record<DeliveryMode, number>;
  /** Events a person resolved as delivered (the reconcile step). */
  resolved: Set<string>;
  /** Whether the misfiled customer's usage records item was set right (FixItem). */
  itemFixed: boolean;
  /** Events an operator retried (dlq retry) after the item was fixed. */
  retriedAfterFix: Set<string>;
}

/** Most events one run ingests. */
export const MAX_EVENTS = 40;
/** Most ghost events per mode and run: every rejection is then named in a report. */
export const MAX_GHOSTS_PER_MODE = 3;
/** Most clock jumps per run: Stripe sees events older by the jumps (see world.ts). */
export const MAX_JUMPS = 3;
/** Most live workers. */
export const MAX_WORKERS = 2;

/** A fresh model: one worker runs from the start. */
export function initialModel(): Model {
  return {
    events: [],
    jumpedMs: 0,
    jumps: 0,
    workers: 1,
    kills: 0,
    keyRevoked: false,
    faults: new Set(),
    ghosts: { meter_events: 0, meter_stream: 0, usage_records: 0 },
    resolved: new Set(),
    itemFixed: false,
    retriedAfterFix: new Set(),
  };
}

/** Time the event has lived through, by the clocks the run moves: jumps plus wall time. */
export function virtualAgeMs(m: Model, e: ModelEvent, nowMs: number): number {
  return m.jumpedMs - e.jumpedMsAtIngest + (nowMs - e.ingestedAtMs);
}

/** Kills and clock jumps (which expire every lease) since the event was ingested. */
export function disruptionsSince(m: Model, e: ModelEvent): number {
  return m.kills - e.killsAtIngest + (m.jumps - e.jumpsAtIngest);
}
