import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { admin, clientFor, rejectionOf, setup } from "./helpers.ts";

describe("Stripe wire protocol", () => {
  it("every response has a Request-Id", async () => {
    const { emu, stripe } = await setup();
    const customer = await stripe.customers.create({ name: "Acme" });
    expect(customer.lastResponse.requestId).toMatch(/^req_\w{14}$/);

    const notFound = await rejectionOf(stripe.customers.retrieve("cus_missing"));
    expect(notFound).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((notFound as Stripe.errors.StripeError).requestId).toMatch(/^req_/);

    const unauthorized = await rejectionOf(clientFor(emu, "sk_test_unknown").customers.list());
    expect((unauthorized as Stripe.errors.StripeError).requestId).toMatch(/^req_/);

    const ledger = await admin(emu, "/_emulator/ledger");
    expect(ledger.headers.get("request-id")).toMatch(/^req_/);
  });

  it("request ids are unique per response", async () => {
    const { stripe } = await setup();
    const a = await stripe.customers.create({});
    const b = await stripe.customers.create({});
    expect(a.lastResponse.requestId).not.toBe(b.lastResponse.requestId);
  });

  it("bracket-nested form parameters are parsed (metadata[key]=value)", async () => {
    const { stripe } = await setup();
    const customer = await stripe.customers.create({
      name: "Acme",
      metadata: { tenant: "t_1", plan: "pro" },
    });
    expect(customer.metadata).toEqual({ tenant: "t_1", plan: "pro" });
  });

  it("errors use Stripe's envelope: type, code, message, param, doc_url", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(stripe.customers.retrieve("cus_missing"));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    const e = error as Stripe.errors.StripeError;
    expect(e.statusCode).toBe(404);
    expect(e.type).toBe("StripeInvalidRequestError");
    expect(e.raw).toMatchObject({
      type: "invalid_request_error",
      code: "resource_missing",
      message: "No such customer: 'cus_missing'",
      param: "id",
      doc_url: "https://stripe.com/docs/error-codes/resource-missing",
    });
  });

  it("an unknown parameter is rejected with parameter_unknown", async () => {
    const { stripe } = await setup();
    const params = { name: "Acme", colour: "red" } as Stripe.CustomerCreateParams;
    const error = await rejectionOf(stripe.customers.create(params));
    expect(error).toMatchObject({ statusCode: 400, code: "parameter_unknown", param: "colour" });
  });

  it("an unknown URL answers 404 in Stripe's envelope", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(stripe.rawRequest("GET", "/v1/nonexistent_things"));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 404 });
    expect((error as Error).message).toMatch(
      /^Unrecognized request URL \(GET: \/v1\/nonexistent_things\)/,
    );
  });
});
