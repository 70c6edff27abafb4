import { and, eq, ne, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { type Customer, customers } from "../db/schema/customers.ts";
import { subscriptionItems } from "../db/schema/subscription-items.ts";
import { ApiError } from "../lib/errors.ts";
import { PREFLIGHT_WAITS, wakeWaiting } from "../outbox/wake.ts";

/** What a PUT may say about a customer. Absent fields are left as they are. */
export interface CustomerChange {
  /** Link to a Stripe customer (`cus_…`), or null to unlink. */
  stripeCustomerId?: string | null | undefined;
  /** Bring a deleted customer back. Without it, a deleted customer is refused (409). */
  restore?: boolean | undefined;
}

/** A customer as the API shows it (snake_case, ISO times). */
export const customerViewSchema = z.object({
  key: z.string(),
  stripe_customer_id: z.string().nullable().describe("The linked Stripe customer (cus_…)"),
  status: z.enum(["active", "deleted"]),
  created_at: z.string(),
  updated_at: z.string(),
  deleted_at: z.string().nullable(),
});

/** A customer as the API shows it (snake_case, ISO times). */
export type CustomerView = z.infer<typeof customerViewSchema>;

/** A customer with the subscription items its usage_records meters report on, by event_name. */
export const customerWithItemsSchema = customerViewSchema.extend({
  subscription_items: z
    .record(z.string(), z.string())
    .describe("Subscription item (si_…) by event_name, for usage_records meters"),
});

/** Renders a customer row for the API. */
export function customerView(c: Customer): CustomerView {
  return {
    key: c.key,
    stripe_customer_id: c.stripeCustomerId,
    status: c.status,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
    deleted_at: c.deletedAt?.toISOString() ?? null,
  };
}

/**
 * Decides what a PUT does to an existing customer: the columns to change (empty: nothing to do),
 * or the error it is refused with. Pure.
 *
 * A deleted customer stays deleted unless the PUT says `"restore": true`: deletion is what fails
 * its pending events, and a provisioning script that re-PUTs every customer nightly must not
 * quietly undo it. Refusing with 409 `customer_deleted` (rather than answering 200 with a
 * deleted customer) tells such a script plainly that its "make it so" did not happen. Events
 * that already failed as customer_deleted stay failed after a restore; an operator retries them.
 */
export function customerUpdate(
  current: Customer,
  change: CustomerChange,
): { changes: Partial<Customer> } | { error: ApiError } {
  if (current.status === "deleted" && change.restore !== true) {
    return {
      error: new ApiError(
        409,
        "customer_deleted",
        `customer "${current.key}" was deleted at ${current.deletedAt?.toISOString() ?? "an unknown time"}; PUT {"restore": true} to restore it`,
      ),
    };
  }
  const changes: Partial<Customer> = {};
  if (
    change.stripeCustomerId !== undefined &&
    change.stripeCustomerId !== current.stripeCustomerId
  ) {
    changes.stripeCustomerId = change.stripeCustomerId;
  }
  if (current.status === "deleted") {
    changes.status = "active";
    changes.deletedAt = null;
  }
  return { changes };
}

/** Creates or updates a customer; `created` says which. Throws 409 as `customerUpdate` decides. */
export async function putCustomer(
  db: Db,
  key: string,
  change: CustomerChange,
): Promise<{ customer: Customer; created: boolean }> {
  const result = await storeCustomer(db, key, change);
  const c = result.customer;
  // Events that waited for this link can go now, not after their scheduled re-check.
  if (c.status === "active" && c.stripeCustomerId)
    await wakeWaiting(db, { customerKey: key }, ["customer_unlinked"]);
  return result;
}

async function storeCustomer(
  db: Db,
  key: string,
  change: CustomerChange,
): Promise<{ customer: Customer; created: boolean }> {
  try {
    return await db.transaction(async (tx) => {
      if (change.stripeCustomerId) await assertStripeIdFree(tx, key, change.stripeCustomerId);
      const [inserted] = await tx
        .insert(customers)
        .values({ key, stripeCustomerId: change.stripeCustomerId ?? null })
        .onConflictDoNothing({ target: customers.key })
        .returning();
      if (inserted) return { customer: inserted, created: true };

      // It exists: lock it, so two PUTs of one customer apply one after the other.
      const [current] = await tx
        .select()
        .from(customers)
        .where(eq(customers.key, key))
        .for("update");
      if (current === undefined) throw new Error(`customer ${key} vanished during its update`);
      const decision = customerUpdate(current, change);
      if ("error" in decision) throw decision.error;
      if (Object.keys(decision.changes).length === 0) return { customer: current, created: false };
      const [updated] = await tx
        .update(customers)
        .set({ ...decision.changes, updatedAt: sql`now()` })
        .where(eq(customers.key, key))
        .returning();
      return { customer: updated ?? current, created: false };
    });
  } catch (err) {
    // Two PUTs linking one Stripe id to two keys at once: the unique index lets one through.
    if (change.stripeCustomerId && isUniqueViolation(err)) {
      throw stripeIdTaken(change.stripeCustomerId, null);
    }
    throw err;
  }
}

/** The customer with this key, or null. */
export async function getCustomer(db: Db, key: string): Promise<Customer | null> {
  const [row] = await db.select().from(customers).where(eq(customers.key, key));
  return row ?? null;
}

/** The customer linked to this Stripe customer id (deleted ones included), or null. */
export async function findCustomerByStripeId(
  db: Db,
  stripeCustomerId: string,
): Promise<Customer | null> {
  const [row] = await db
    .select()
    .from(customers)
    .where(eq(customers.stripeCustomerId, stripeCustomerId));
  return row ?? null;
}

/**
 * Marks a customer deleted (its pending events then fail pre-flight as customer_deleted). The
 * row stays, so events and Stripe webhooks still resolve it. Idempotent: a second delete keeps
 * the first deletion time. Null when there is no such customer.
 */
export async function deleteCustomer(db: Db, key: string): Promise<Customer | null> {
  const [row] = await db
    .update(customers)
    .set({
      status: "deleted",
      deletedAt: sql`coalesce(${customers.deletedAt}, now())`,
      updatedAt: sql`case when ${customers.status} = 'deleted' then ${customers.updatedAt} else now() end`,
    })
    .where(eq(customers.key, key))
    .returning();
  // Its waiting events fail pre-flight as customer_deleted on the next claim, not hours later.
  if (row) await wakeWaiting(db, { customerKey: key }, PREFLIGHT_WAITS);
  return row ?? null;
}

async function assertStripeIdFree(db: Db, key: string, stripeCustomerId: string): Promise<void> {
  const [holder] = await db
    .select({ key: customers.key, status: customers.status })
    .from(customers)
    .where(and(eq(customers.stripeCustomerId, stripeCustomerId), ne(customers.key, key)));
  if (holder) throw stripeIdTaken(stripeCustomerId, holder);
}

function stripeIdTaken(
  stripeCustomerId: string,
  holder: { key: string; status: string } | null,
): ApiError {
  const who = holder
    ? `customer "${holder.key}"${holder.status === "deleted" ? " (deleted)" : ""}`
    : "another customer";
  return new ApiError(
    409,
    "stripe_customer_taken",
    `${stripeCustomerId} is already linked to ${who}`,
    {
      field: "stripe_customer_id",
    },
  );
}

/** True for Postgres unique_violation (23505), however deep the driver wrapped it. */
export function isUniqueViolation(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    if ((e as Error & { code?: unknown }).code === "23505") return true;
    e = e.cause;
  }
  return false;
}

/** A customer's subscription items (usage_records meters), by event_name. */
export async function listSubscriptionItems(db: Db, key: string): Promise<Record<string, string>> {
  const rows = await db
    .select()
    .from(subscriptionItems)
    .where(eq(subscriptionItems.customerKey, key))
    .orderBy(subscriptionItems.eventName);
  return Object.fromEntries(rows.map((r) => [r.eventName, r.subscriptionItemId]));
}

/**
 * Sets (or, with null, removes) the subscription item a customer's usage of one meter is
 * reported on as legacy usage records. Null when there is no such customer. Events waiting for
 * the item go on the next claim.
 */
export async function putSubscriptionItem(
  db: Db,
  key: string,
  eventName: string,
  subscriptionItemId: string | null,
): Promise<Customer | null> {
  const customer = await getCustomer(db, key);
  if (customer === null) return null;
  const pair = and(
    eq(subscriptionItems.customerKey, key),
    eq(subscriptionItems.eventName, eventName),
  );
  if (subscriptionItemId === null) {
    await db.delete(subscriptionItems).where(pair);
    return customer;
  }
  await db
    .insert(subscriptionItems)
    .values({ customerKey: key, eventName, subscriptionItemId })
    .onConflictDoUpdate({
      target: [subscriptionItems.customerKey, subscriptionItems.eventName],
      set: { subscriptionItemId, updatedAt: sql`now()` },
    });
  // Pre-flight's wait for exactly this (src/reporter/preflight-subscription-item.ts).
  await wakeWaiting(db, { customerKey: key }, ["subscription_item_missing"]);
  return customer;
}
