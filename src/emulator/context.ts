import { KeyRing } from "./auth.ts";
import { AdjustableClock, type Clock, systemClock } from "./clock.ts";
import { EndpointFaults } from "./endpoint-faults.ts";
import type { Faults, Random } from "./faults.ts";
import { IdempotencyStore } from "./idempotency.ts";
import { RateLimiter, type RateLimits } from "./rate-limits.ts";
import { Store } from "./state/store.ts";

/** Where thin events go: a URL and the secret their signatures use. */
export interface EventDestination {
  /** Receives POSTs of signed thin events. */
  url: string;
  /** HMAC-SHA256 key of the Stripe-Signature header (whsec_…). */
  secret: string;
}

/** Everything a route needs, built once per emulator and passed explicitly (no globals). */
export interface EmulatorContext {
  /** Source of now: the base clock plus what the admin route moved it by. */
  clock: AdjustableClock;
  /** Source of randomness for fault decisions. */
  random: Random;
  /** Accepted and revoked API keys. */
  keys: KeyRing;
  /** Customers, meters, identifiers, ledger, subscriptions, sessions, events. */
  store: Store;
  /** Global and per-endpoint-group faults. */
  endpointFaults: EndpointFaults;
  /** Stripe's idempotency layer. */
  idempotency: IdempotencyStore;
  /** Rate limits (off unless configured). */
  rateLimiter: RateLimiter;
  /** Event destinations for thin events. */
  destinations: EventDestination[];
  /** Current global faults (a copy). */
  faults(): Faults;
  /** Merge a patch into the global faults after validating it; throws a ZodError when invalid. */
  setFaults(patch: unknown): Faults;
}

/** What a context is built from; the injectable parts default to the real clock and Math.random. */
export interface ContextInit {
  /** Accepted secret keys. */
  apiKeys: readonly string[];
  /** Initial faults (validated like any update). */
  faults?: unknown;
  /** Base clock, for tests; the admin route moves the emulator's clock relative to it. */
  clock?: Clock;
  /** Random source override, for reproducible fault runs. */
  random?: Random;
  /** Initial rate limits; off by default. */
  rateLimits?: RateLimits;
  /** Initial event destinations. */
  destinations?: readonly EventDestination[];
}

/** Build a fresh context: empty store, given keys, validated faults. */
export function createContext(init: ContextInit): EmulatorContext {
  const clock = new AdjustableClock(init.clock ?? systemClock);
  const endpointFaults = new EndpointFaults(init.faults ?? {});
  return {
    clock,
    random: init.random ?? Math.random,
    keys: new KeyRing(init.apiKeys),
    store: new Store(),
    endpointFaults,
    idempotency: new IdempotencyStore(clock),
    rateLimiter: new RateLimiter(clock, init.rateLimits),
    destinations: [...(init.destinations ?? [])],
    faults: () => endpointFaults.globalFaults(),
    setFaults: (patch) => endpointFaults.setGlobal(patch),
  };
}
