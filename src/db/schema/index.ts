export * from "./api-keys.ts";
export * from "./customers.ts";
export * from "./meters.ts";
export * from "./reporter-circuits.ts";
export * from "./stripe-events.ts";
export * from "./subscription-items.ts";
export * from "./usage-event-attempts.ts";
export * from "./usage-events.ts";
