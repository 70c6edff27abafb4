import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi, type TestApi } from "../api/harness.ts";

// The route behind usage_records meters: which subscription item a customer's usage goes on.
describe("PUT /v1/customers/:key/subscription_items/:event_name", () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi("pglite");
    await api.call({ method: "PUT", url: "/v1/customers/acme", payload: {} });
  });
  afterAll(() => api.close());

  it("sets, shows (GET customer), replaces and removes an item", async () => {
    const put = (id: string | null) =>
      api.call({
        method: "PUT",
        url: "/v1/customers/acme/subscription_items/api_calls",
        payload: { subscription_item_id: id },
      });
    expect((await put("si_1")).json()).toMatchObject({
      key: "acme",
      subscription_items: { api_calls: "si_1" },
    });
    await put("si_2");
    const got = await api.call({ method: "GET", url: "/v1/customers/acme" });
    expect(got.json()).toMatchObject({ subscription_items: { api_calls: "si_2" } });
    expect((await put(null)).json()).toMatchObject({ subscription_items: {} });
  });

  it("refuses what is not an item id (400 naming the field), an unknown customer (404), and an ingest key (403)", async () => {
    const bad = await api.call({
      method: "PUT",
      url: "/v1/customers/acme/subscription_items/api_calls",
      payload: { subscription_item_id: "cus_1" },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain("subscription_item_id");
    const missing = await api.call({
      method: "PUT",
      url: "/v1/customers/nobody/subscription_items/api_calls",
      payload: { subscription_item_id: "si_1" },
    });
    expect(missing.statusCode).toBe(404);
    const ingest = await api.call({
      method: "PUT",
      url: "/v1/customers/acme/subscription_items/api_calls",
      payload: { subscription_item_id: "si_1" },
      headers: { authorization: `Bearer ${api.ingestKey}` },
    });
    expect(ingest.statusCode).toBe(403);
  });
});
