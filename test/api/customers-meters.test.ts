import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends } from "../support/db.ts";
import { apiError, startApi, type TestApi } from "./harness.ts";

describe.each(backends)("customers and meters on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
  });
  afterAll(() => api?.close());

  const put = (url: string, payload?: unknown) =>
    api.call({
      method: "PUT",
      url,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const get = (url: string) => api.call({ method: "GET", url });

  describe("customers", () => {
    it("PUT creates (201), then links (200); GET finds it by key and by Stripe id", async () => {
      const created = await put("/v1/customers/acme");
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({
        key: "acme",
        stripe_customer_id: null,
        status: "active",
        deleted_at: null,
      });
      expect(Object.keys(created.json()).sort()).toEqual(
        ["created_at", "deleted_at", "key", "status", "stripe_customer_id", "updated_at"].sort(),
      );

      const linked = await put("/v1/customers/acme", { stripe_customer_id: "cus_Acme1" });
      expect(linked.statusCode).toBe(200);
      expect(linked.json()).toMatchObject({ key: "acme", stripe_customer_id: "cus_Acme1" });

      expect((await get("/v1/customers/acme")).json()).toMatchObject({
        stripe_customer_id: "cus_Acme1",
      });
      const byStripe = await get("/v1/customers?stripe_customer_id=cus_Acme1");
      expect(byStripe.statusCode).toBe(200);
      expect(byStripe.json()).toMatchObject({ key: "acme" });
    });

    it("PUT with a Stripe id in the create links at once; null unlinks", async () => {
      const res = await put("/v1/customers/initech", { stripe_customer_id: "cus_Ini" });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ stripe_customer_id: "cus_Ini" });
      const unlinked = await put("/v1/customers/initech", { stripe_customer_id: null });
      expect(unlinked.json()).toMatchObject({ stripe_customer_id: null });
      expect((await get("/v1/customers?stripe_customer_id=cus_Ini")).statusCode).toBe(404);
    });

    it("409 stripe_customer_taken when the Stripe id is linked to another key", async () => {
      const res = await put("/v1/customers/globex", { stripe_customer_id: "cus_Acme1" });
      expect(res.statusCode).toBe(409);
      expect(apiError(res)).toMatchObject({
        code: "stripe_customer_taken",
        field: "stripe_customer_id",
        message: 'cus_Acme1 is already linked to customer "acme"',
      });
      expect((await get("/v1/customers/globex")).statusCode).toBe(404);
    });

    it("two keys racing for one Stripe id: one links, the other is 409", async () => {
      const results = await Promise.all(
        ["race-a", "race-b"].map((key) =>
          put(`/v1/customers/${key}`, { stripe_customer_id: "cus_Race" }),
        ),
      );
      expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409]);
      const loser = results.find((r) => r.statusCode === 409);
      expect(loser && apiError(loser).code).toBe("stripe_customer_taken");
    });

    it("404 customer_not_found both ways", async () => {
      expect(apiError(await get("/v1/customers/nobody"))).toMatchObject({
        code: "customer_not_found",
      });
      expect(apiError(await get("/v1/customers?stripe_customer_id=cus_None"))).toMatchObject({
        code: "customer_not_found",
      });
    });

    it("400 for a bad body, a bad Stripe id, or a lookup without stripe_customer_id", async () => {
      const typo = await put("/v1/customers/acme", { stripe_customer: "cus_X" });
      expect(typo.statusCode).toBe(400);
      expect(apiError(typo)).toMatchObject({ code: "invalid_body", field: "stripe_customer" });
      expect(apiError(typo).message).toContain("did you mean stripe_customer_id?");
      const bad = await put("/v1/customers/acme", { stripe_customer_id: "acme" });
      expect(apiError(bad)).toMatchObject({ code: "invalid_body", field: "stripe_customer_id" });
      expect(apiError(bad).message).toContain(
        'stripe_customer_id must be a Stripe customer id like "cus_…"',
      );
      expect(apiError(await get("/v1/customers")).code).toBe("invalid_query");
      expect(apiError(await get("/v1/customers?stripe_customer_id=nope")).code).toBe(
        "invalid_query",
      );
    });

    it("DELETE marks deleted; a re-PUT is refused unless it restores", async () => {
      await put("/v1/customers/hooli", { stripe_customer_id: "cus_Hooli" });
      const deleted = await api.call({ method: "DELETE", url: "/v1/customers/hooli" });
      expect(deleted.statusCode).toBe(200);
      const body = deleted.json();
      expect(body).toMatchObject({ key: "hooli", status: "deleted" });
      expect(body.deleted_at).toEqual(expect.any(String));

      const again = await api.call({ method: "DELETE", url: "/v1/customers/hooli" });
      expect(again.json().deleted_at).toBe(body.deleted_at);

      const refused = await put("/v1/customers/hooli", {});
      expect(refused.statusCode).toBe(409);
      expect(apiError(refused).code).toBe("customer_deleted");
      expect(apiError(refused).message).toContain('PUT {"restore": true}');
      expect((await get("/v1/customers/hooli")).json()).toMatchObject({ status: "deleted" });
      // Still found by its Stripe id: webhooks about it must resolve.
      expect((await get("/v1/customers?stripe_customer_id=cus_Hooli")).json()).toMatchObject({
        key: "hooli",
        status: "deleted",
      });

      const restored = await put("/v1/customers/hooli", { restore: true });
      expect(restored.statusCode).toBe(200);
      expect(restored.json()).toMatchObject({
        status: "active",
        deleted_at: null,
        stripe_customer_id: "cus_Hooli",
      });
    });

    it("DELETE of an unknown customer is 404", async () => {
      const res = await api.call({ method: "DELETE", url: "/v1/customers/nobody" });
      expect(res.statusCode).toBe(404);
      expect(apiError(res).code).toBe("customer_not_found");
    });

    it("400 invalid_param for a key longer than 255 characters", async () => {
      const res = await get(`/v1/customers/${"k".repeat(256)}`);
      expect(res.statusCode).toBe(400);
      expect(apiError(res)).toMatchObject({ code: "invalid_param", field: "key" });
    });
  });

  describe("meters", () => {
    it("PUT declares a meter with defaults (201), then updates only what it names (200)", async () => {
      const created = await put("/v1/meters/api_calls", { stripe_meter_id: "mtr_test_61Abc" });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({
        event_name: "api_calls",
        stripe_meter_id: "mtr_test_61Abc",
        status: "active",
        delivery_mode: "meter_events",
        customer_payload_key: "stripe_customer_id",
        value_payload_key: "value",
      });
      const updated = await put("/v1/meters/api_calls", {
        status: "inactive",
        delivery_mode: "meter_stream",
        value_payload_key: "units",
      });
      expect(updated.statusCode).toBe(200);
      expect(updated.json()).toMatchObject({
        stripe_meter_id: "mtr_test_61Abc",
        status: "inactive",
        delivery_mode: "meter_stream",
        value_payload_key: "units",
      });
      const unchanged = await put("/v1/meters/api_calls");
      expect(unchanged.statusCode).toBe(200);
      expect(unchanged.json()).toEqual(updated.json());
    });

    it("GET lists meters and shows one; 404 meter_not_found", async () => {
      await put("/v1/meters/tokens", { delivery_mode: "usage_records" });
      const list = await get("/v1/meters");
      expect(list.statusCode).toBe(200);
      expect(list.json().data.map((m: { event_name: string }) => m.event_name)).toEqual([
        "api_calls",
        "tokens",
      ]);
      expect((await get("/v1/meters/tokens")).json()).toMatchObject({
        delivery_mode: "usage_records",
      });
      const missing = await get("/v1/meters/minutes");
      expect(missing.statusCode).toBe(404);
      expect(apiError(missing).code).toBe("meter_not_found");
    });

    it("400 names every bad field of a meter", async () => {
      const res = await put("/v1/meters/api_calls", {
        stripe_meter_id: "meter_1",
        status: "paused",
        delivery_mode: "carrier_pigeon",
      });
      expect(res.statusCode).toBe(400);
      expect(apiError(res).errors?.map((e) => e.field)).toEqual([
        "stripe_meter_id",
        "status",
        "delivery_mode",
      ]);
      expect(apiError(res).message).toContain(
        "delivery_mode must be one of meter_events, meter_stream, usage_records",
      );
    });
  });
});
