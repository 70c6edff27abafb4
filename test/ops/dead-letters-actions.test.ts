import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { apiError, startApi, type TestApi } from "../api/harness.ts";
import { backends } from "../support/db.ts";
import {
  auditRows,
  eventRow,
  insertEvent,
  resetOutbox,
  statuses,
} from "./dead-letters-fixtures.ts";

const HOUR = 3_600_000;

describe.each(backends)("POST /v1/dead-letters/:action on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
  });
  afterAll(() => api?.close());
  beforeEach(async () => {
    await resetOutbox(api.db);
    await insertEvent(api.db, "a", { failedHoursAgo: 5 });
    await insertEvent(api.db, "b", { failedHoursAgo: 4 });
    await insertEvent(api.db, "c", { failedHoursAgo: 3, lastErrorCode: "timestamp_too_old" });
    await insertEvent(api.db, "p", { status: "pending", failedAt: null });
    await insertEvent(api.db, "r", { status: "reported" });
  });

  const post = (action: string, payload: unknown) =>
    api.call({ method: "POST", url: `/v1/dead-letters/${action}`, payload: payload as object });
  const ok = async (action: string, payload: unknown) => {
    const res = await post(action, payload);
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  it.each(["retry", "discard", "resolve"])(
    "%s dry_run counts and samples, changes nothing",
    async (action) => {
      const before = await statuses(api.db);
      const body = await ok(action, { filter: { code: "customer_deleted" }, dry_run: true });
      expect(body).toMatchObject({
        action,
        dry_run: true,
        matched: 2,
        changed: 0,
        would_change: 2,
      });
      expect(body.ids).toEqual(["a", "b"]);
      expect(await statuses(api.db)).toEqual(before);
      expect(await auditRows(api.db, "a")).toEqual([]);
    },
  );

  it("retry: failed → pending, same id, due now, attempts reset, error kept, audited", async () => {
    await insertEvent(api.db, "amb", {
      failedHoursAgo: 2,
      lastErrorCode: "retries_exhausted",
      firstAmbiguousAt: new Date(Date.now() - 5 * HOUR),
      firstSentAt: new Date(Date.now() - 5 * HOUR),
      leaseOwner: "w1",
      leaseExpiresAt: new Date(Date.now() + 60_000),
    });
    const body = await ok("retry", {
      ids: ["a", "amb", "p", "r", "nope"],
      note: "customer restored",
    });
    expect(body).toMatchObject({ action: "retry", matched: 2, changed: 2, remaining: 0 });
    expect(body.ids).toEqual(["a", "amb"]);
    expect(body.unmatched_ids).toEqual(["p", "r", "nope"]);

    const a = await eventRow(api.db, "amb");
    expect(a).toMatchObject({
      id: "amb",
      status: "pending",
      attempts: 0,
      claims: 2,
      leaseOwner: null,
      leaseExpiresAt: null,
      failedAt: null,
      waitReason: null,
      lastErrorCode: "retries_exhausted",
    });
    // Kept: the dedup window still counts from the first ambiguous send.
    expect(a?.firstAmbiguousAt).toBeInstanceOf(Date);
    expect(a?.nextAttemptAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    const audit = await auditRows(api.db, "amb");
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ attempt: 0, worker: "operator", outcome: "operator_retry" });
    expect(audit[0]?.message).toContain('retried by key "test admin"');
    expect(audit[0]?.message).toContain("(note: customer restored)");
    expect(audit[0]?.message).toContain("retries_exhausted");
    // Only failed rows are touched.
    expect((await eventRow(api.db, "r"))?.status).toBe("reported");
    expect(await auditRows(api.db, "p")).toEqual([]);

    // A second retry finds nothing failed: no change, no second audit row.
    const again = await ok("retry", { ids: ["a"] });
    expect(again).toMatchObject({ matched: 0, changed: 0, unmatched_ids: ["a"] });
    expect(await auditRows(api.db, "a")).toHaveLength(1);

    // The trace shows who did what.
    const trace = await api.call({ method: "GET", url: "/v1/events/a" });
    expect(trace.json().history).toEqual([
      expect.objectContaining({ outcome: "operator_retry", worker: "operator" }),
    ]);
  });

  it("retry refuses named events past the dedup window, all or nothing", async () => {
    await insertEvent(api.db, "late", {
      lastErrorCode: "dedup_window_expired",
      firstAmbiguousAt: new Date(Date.now() - 24 * HOUR),
      firstSentAt: new Date(Date.now() - 24 * HOUR),
    });
    const before = await statuses(api.db);
    for (const dryRun of [false, true]) {
      const res = await post("retry", { ids: ["a", "late"], dry_run: dryRun });
      expect(res.statusCode).toBe(409);
      expect(apiError(res)).toMatchObject({ code: "dedup_window_expired", ids: ["late"] });
      expect(apiError(res).message).toContain("resolve it as delivered");
    }
    expect(await statuses(api.db)).toEqual(before);
    expect(await auditRows(api.db, "a")).toEqual([]);
  });

  it("retry by filter skips and reports what it must refuse", async () => {
    await insertEvent(api.db, "late", {
      firstAmbiguousAt: new Date(Date.now() - 24 * HOUR),
      firstSentAt: new Date(Date.now() - 24 * HOUR),
    });
    const body = await ok("retry", { filter: { code: "customer_deleted" } });
    expect(body).toMatchObject({ matched: 3, changed: 2, ids: ["a", "b"], remaining: 0 });
    expect(body.refused).toMatchObject({ code: "dedup_window_expired", count: 1, ids: ["late"] });
    expect((await eventRow(api.db, "late"))?.status).toBe("failed");
  });

  it("retry --not-in-stripe sends a late event again, clearing first_sent_at", async () => {
    await insertEvent(api.db, "late", {
      firstAmbiguousAt: new Date(Date.now() - 24 * HOUR),
      firstSentAt: new Date(Date.now() - 24 * HOUR),
    });
    const body = await ok("retry", { ids: ["late"], confirm_not_in_stripe: true });
    expect(body).toMatchObject({ changed: 1 });
    expect(await eventRow(api.db, "late")).toMatchObject({
      status: "pending",
      firstAmbiguousAt: null,
      firstSentAt: null,
    });
    expect((await auditRows(api.db, "late"))[0]?.message).toContain("does not hold it");
  });

  it("discard: failed → discarded, failed_at kept, audited", async () => {
    const failedAt = (await eventRow(api.db, "c"))?.failedAt;
    const body = await ok("discard", { filter: { code: "timestamp_too_old" } });
    expect(body).toMatchObject({ action: "discard", matched: 1, changed: 1, ids: ["c"] });
    expect(await eventRow(api.db, "c")).toMatchObject({ status: "discarded", failedAt });
    expect(await auditRows(api.db, "c")).toEqual([
      expect.objectContaining({ attempt: 2, worker: "operator", outcome: "operator_discard" }),
    ]);
    expect((await eventRow(api.db, "a"))?.status).toBe("failed");
  });

  it("resolve: failed → reported now, audited", async () => {
    const body = await ok("resolve", { ids: ["b"] });
    expect(body).toMatchObject({ action: "resolve", matched: 1, changed: 1, ids: ["b"] });
    const b = await eventRow(api.db, "b");
    expect(b?.status).toBe("reported");
    expect(Math.abs((b?.reportedAt?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(await auditRows(api.db, "b")).toEqual([
      expect.objectContaining({ worker: "operator", outcome: "operator_resolved" }),
    ]);
  });

  it("changes at most limit per call, oldest first, and says what remains", async () => {
    const body = await ok("discard", { filter: {}, limit: 2 });
    expect(body).toMatchObject({ matched: 3, changed: 2, ids: ["a", "b"], remaining: 1 });
    expect((await ok("discard", { filter: {} })).ids).toEqual(["c"]);
  });

  it("concurrent operators cannot double-apply", async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, () => ok("retry", { filter: { code: "customer_deleted" } })),
    );
    expect(results.reduce((n, r) => n + r.changed, 0)).toBe(2);
    expect(await auditRows(api.db, "a")).toHaveLength(1);
    expect(await auditRows(api.db, "b")).toHaveLength(1);
  });

  it.each([
    [{}, "ids", "ids or filter is required"],
    [{ ids: ["a"], filter: {} }, "ids", "ids and filter cannot be combined"],
    [{ ids: [] }, "ids", "ids must be a list of 1 to 1000 event ids"],
    [{ ids: ["bad id"] }, "ids", "ids must be a list"],
    [
      { filter: { older_than: "1 hour" } },
      "filter.older_than",
      "filter.older_than must be a duration like 30m, 2h or 7d",
    ],
    [{ filter: { cod: "x" } }, "filter.cod", "filter.cod is not a known field; did you mean code?"],
    [{ filter: [] }, "filter", "filter must be a JSON object"],
    [{ filter: {}, limit: 0 }, "limit", "limit must be a whole number from 1 to 10000"],
    [{ filter: {}, confirm_not_in_stripe: true }, "confirm_not_in_stripe", "needs ids"],
  ])("400 invalid_body for %j", async (payload, field, message) => {
    const res = await post("retry", payload);
    expect(res.statusCode).toBe(400);
    expect(apiError(res)).toMatchObject({ code: "invalid_body", field });
    expect(apiError(res).message).toContain(message);
  });

  it("confirm_not_in_stripe is a retry's field only", async () => {
    const res = await post("discard", { ids: ["a"], confirm_not_in_stripe: true });
    expect(res.statusCode).toBe(400);
    expect(apiError(res).field).toBe("confirm_not_in_stripe");
  });
});
