import { z } from "zod";
import { type Faults, mergeFaults, NO_FAULTS } from "./faults.ts";

/** The endpoint groups faults can target separately. */
export const ENDPOINT_GROUPS = [
  "meter_events",
  "meter_event_stream",
  "usage_records",
  "default",
] as const;

/** One endpoint group: the three usage endpoints, and `default` for everything else. */
export type EndpointGroup = (typeof ENDPOINT_GROUPS)[number];

/** Validates a group name from a route parameter. */
export const endpointGroupSchema = z.enum(ENDPOINT_GROUPS);

/**
 * Fault settings per endpoint group. Without an override, the usage groups follow the global
 * faults (what `setFaults` and POST /_emulator/faults always changed) and `default` — customer,
 * meter, subscription management — has none, so tests can always set up state.
 */
export class EndpointFaults {
  private global: Faults;
  private readonly overrides = new Map<EndpointGroup, Faults>();

  constructor(initial: unknown) {
    this.global = mergeFaults(NO_FAULTS, initial ?? {});
  }

  /** The global (usage endpoint) faults, a copy. */
  globalFaults(): Faults {
    return { ...this.global };
  }

  /** Merge a patch into the global faults; throws a ZodError when invalid. */
  setGlobal(patch: unknown): Faults {
    this.global = mergeFaults(this.global, patch);
    return { ...this.global };
  }

  /** The faults in force for a group. */
  effective(group: EndpointGroup): Faults {
    const own = this.overrides.get(group);
    if (own) return { ...own };
    return group === "default" ? { ...NO_FAULTS } : { ...this.global };
  }

  /** Merge a patch into a group's override (starting from what is in force); throws when invalid. */
  setGroup(group: EndpointGroup, patch: unknown): Faults {
    const next = mergeFaults(this.effective(group), patch);
    this.overrides.set(group, next);
    return { ...next };
  }

  /** Drop a group's override: it follows the global faults (or none, for `default`) again. */
  clearGroup(group: EndpointGroup): Faults {
    this.overrides.delete(group);
    return this.effective(group);
  }

  /** Every group's faults in force, and which have their own. */
  describe(): Record<EndpointGroup, Faults & { overridden: boolean }> {
    const out = {} as Record<EndpointGroup, Faults & { overridden: boolean }>;
    for (const group of ENDPOINT_GROUPS) {
      out[group] = { ...this.effective(group), overridden: this.overrides.has(group) };
    }
    return out;
  }
}
