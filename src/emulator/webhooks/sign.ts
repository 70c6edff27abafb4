import { createHmac } from "node:crypto";

/**
 * Stripe's webhook signature: `t=<unix>,v1=<hex>` where the hex is HMAC-SHA256 over
 * "<t>.<raw body>" keyed with the destination secret — what `webhooks.generateTestHeaderString`
 * produces and `parseEventNotification` / `constructEvent` verify.
 */
export function signatureHeader(body: string, secret: string, timestamp: number): string {
  const signature = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${signature}`;
}
