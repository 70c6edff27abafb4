import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { rejectionOf, setup } from "./helpers.ts";

describe("customers", () => {
  it("a created customer has Stripe's shape and can be retrieved", async () => {
    const { stripe } = await setup();
    const created = await stripe.customers.create({ name: "Acme", email: "billing@acme.test" });
    expect(created).toMatchObject({
      object: "customer",
      name: "Acme",
      email: "billing@acme.test",
      balance: 0,
      delinquent: false,
      livemode: false,
      metadata: {},
      tax_exempt: "none",
      preferred_locales: [],
    });
    expect(created.id).toMatch(/^cus_\w{14}$/);
    expect(created.invoice_prefix).toMatch(/^[0-9A-F]{8}$/);
    const { lastResponse: _a, ...fetched } = await stripe.customers.retrieve(created.id);
    const { lastResponse: _b, ...original } = created;
    expect(fetched).toEqual(original);
  });

  it("deleting a customer returns a DeletedCustomer", async () => {
    const { stripe } = await setup();
    const { id } = await stripe.customers.create({});
    const deleted = await stripe.customers.del(id);
    expect(deleted).toMatchObject({ id, object: "customer", deleted: true });
  });

  it("retrieving a deleted customer returns {id, object, deleted: true}", async () => {
    const { stripe } = await setup();
    const { id } = await stripe.customers.create({ name: "Gone" });
    await stripe.customers.del(id);
    const { lastResponse: _, ...retrieved } = await stripe.customers.retrieve(id);
    expect(retrieved).toEqual({ id, object: "customer", deleted: true });
  });

  it("deleting a deleted customer is 404 resource_missing", async () => {
    const { stripe } = await setup();
    const { id } = await stripe.customers.create({});
    await stripe.customers.del(id);
    const error = await rejectionOf(stripe.customers.del(id));
    expect(error).toMatchObject({ statusCode: 404, code: "resource_missing" });
  });

  it("an unknown customer is 404 resource_missing (StripeInvalidRequestError)", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(stripe.customers.retrieve("cus_doesnotexist"));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      message: "No such customer: 'cus_doesnotexist'",
    });
  });

  it("updating a customer merges metadata", async () => {
    const { stripe } = await setup();
    const { id } = await stripe.customers.create({ metadata: { a: "1" } });
    const updated = await stripe.customers.update(id, { name: "New", metadata: { b: "2" } });
    expect(updated).toMatchObject({ name: "New", metadata: { a: "1", b: "2" } });
  });

  it("the customer list is newest first, skips deleted customers and pages", async () => {
    const { stripe } = await setup();
    const a = await stripe.customers.create({ name: "a" });
    const b = await stripe.customers.create({ name: "b" });
    const c = await stripe.customers.create({ name: "c" });
    await stripe.customers.del(b.id);
    const first = await stripe.customers.list({ limit: 1 });
    expect(first.data.map((x) => x.id)).toEqual([c.id]);
    expect(first.has_more).toBe(true);
    const rest = await stripe.customers.list({ limit: 5, starting_after: c.id });
    expect(rest.data.map((x) => x.id)).toEqual([a.id]);
    expect(rest.has_more).toBe(false);
    expect(rest.url).toBe("/v1/customers");
  });
});
