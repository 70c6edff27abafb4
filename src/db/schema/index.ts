export * from "./api-keys.ts";
export * from "./customers.ts";
export * from "./meters.ts";
export * from "./stripe-events.ts";
export * from "./usage-event-attempts.ts";
export * from "./usage-events.ts";
