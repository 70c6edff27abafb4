import { KeyRing } from "./auth.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type Faults, mergeFaults, NO_FAULTS, type Random } from "./faults.ts";
import { Store } from "./state/store.ts";

/** Everything a route needs, built once per emulator and passed explicitly (no globals). */
export interface EmulatorContext {
  /** Source of now. */
  clock: Clock;
  /** Source of randomness for fault decisions. */
  random: Random;
  /** Accepted and revoked API keys. */
  keys: KeyRing;
  /** Customers, meters, identifiers, ledger. */
  store: Store;
  /** Current faults (a copy). */
  faults(): Faults;
  /** Merge a patch into the faults after validating it; throws a ZodError when invalid. */
  setFaults(patch: unknown): Faults;
}

/** What a context is built from; the injectable parts default to the real clock and Math.random. */
export interface ContextInit {
  /** Accepted secret keys. */
  apiKeys: readonly string[];
  /** Initial faults (validated like any update). */
  faults?: unknown;
  /** Clock override, for tests and the later controllable clock. */
  clock?: Clock;
  /** Random source override, for reproducible fault runs. */
  random?: Random;
}

/** Build a fresh context: empty store, given keys, validated faults. */
export function createContext(init: ContextInit): EmulatorContext {
  let faults = mergeFaults(NO_FAULTS, init.faults ?? {});
  return {
    clock: init.clock ?? systemClock,
    random: init.random ?? Math.random,
    keys: new KeyRing(init.apiKeys),
    store: new Store(),
    faults: () => ({ ...faults }),
    setFaults: (patch) => {
      faults = mergeFaults(faults, patch);
      return { ...faults };
    },
  };
}
