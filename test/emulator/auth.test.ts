import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { admin, clientFor, rejectionOf, setup } from "./helpers.ts";

/** A client that authenticates with whatever Authorization header the test gives it. */
function clientWithHeader(port: number, authorization: string | null): Stripe {
  return new Stripe("", {
    host: "127.0.0.1",
    port,
    protocol: "http",
    maxNetworkRetries: 0,
    authenticator: async (request) => {
      if (authorization !== null) request.headers.Authorization = authorization;
    },
  });
}

describe("API keys", () => {
  it("an unknown key gets 401 (StripeAuthenticationError)", async () => {
    const { emu } = await setup();
    const error = await rejectionOf(clientFor(emu, "sk_test_unknownkey1234").customers.create({}));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error).toMatchObject({ statusCode: 401 });
    expect((error as Stripe.errors.StripeError).raw).toMatchObject({
      type: "invalid_request_error",
      message: "Invalid API Key provided: sk_test_**********1234",
    });
  });

  it("a request without a key gets 401 asking for one", async () => {
    const { emu } = await setup();
    const error = await rejectionOf(clientWithHeader(emu.port, null).customers.create({}));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect((error as Error).message).toMatch(/^You did not provide an API key/);
  });

  it("Basic auth with the key as user name is accepted, as Stripe accepts it", async () => {
    const { emu } = await setup();
    const basic = `Basic ${Buffer.from(`${emu.apiKey}:`).toString("base64")}`;
    const customer = await clientWithHeader(emu.port, basic).customers.create({ name: "B" });
    expect(customer.object).toBe("customer");
  });

  it("every configured key is accepted", async () => {
    const { emu } = await setup({ apiKeys: ["sk_test_first", "sk_test_second"] });
    expect(emu.apiKey).toBe("sk_test_first");
    const customer = await clientFor(emu, "sk_test_second").customers.create({});
    expect(customer.id).toMatch(/^cus_/);
  });

  it("a revoked key gets 401 until restored", async () => {
    const { emu, stripe } = await setup();
    await stripe.customers.create({});

    emu.revokeKey(emu.apiKey);
    expect(await rejectionOf(stripe.customers.create({}))).toBeInstanceOf(
      Stripe.errors.StripeAuthenticationError,
    );

    emu.restoreKey(emu.apiKey);
    expect((await stripe.customers.create({})).object).toBe("customer");
  });

  it("keys are revoked and restored through the admin routes too", async () => {
    const { emu, stripe } = await setup();
    const revoked = await admin(emu, "/_emulator/keys/revoke", { key: emu.apiKey });
    expect(revoked).toMatchObject({ status: 200, json: { key: emu.apiKey, revoked: true } });
    expect(await rejectionOf(stripe.billing.meters.list())).toBeInstanceOf(
      Stripe.errors.StripeAuthenticationError,
    );

    await admin(emu, "/_emulator/keys/restore", { key: emu.apiKey });
    expect((await stripe.billing.meters.list()).object).toBe("list");
  });

  it("a revoked key applies no meter event", async () => {
    const { emu, stripe } = await setup();
    const customer = await stripe.customers.create({});
    emu.revokeKey(emu.apiKey);
    await rejectionOf(
      stripe.billing.meterEvents.create({
        event_name: "api_requests",
        payload: { stripe_customer_id: customer.id, value: "1" },
      }),
    );
    expect(emu.ledger().events).toEqual([]);
  });
});
