import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/connect.ts";
import type { usageEvents } from "../../src/db/schema/usage-events.ts";
import { apiError, startApi, type TestApi } from "../api/harness.ts";
import { backends } from "../support/db.ts";
import { waitsOnLock } from "../support/held-transaction.ts";
import {
  auditRows,
  eventRow,
  insertEvent,
  resetOutbox,
  statuses,
} from "./dead-letters-fixtures.ts";

const HOUR = 3_600_000;
const FAR_FUTURE = new Date("2100-01-01T00:00:00Z");

/** A pending event written straight into the outbox (received `receivedHoursAgo` ago). */
async function insertPending(
  db: Db,
  id: string,
  over: Partial<typeof usageEvents.$inferInsert> & { receivedHoursAgo?: number } = {},
): Promise<void> {
  const { receivedHoursAgo = 1, ...rest } = over;
  const receivedAt = new Date(Date.now() - receivedHoursAgo * HOUR);
  await insertEvent(db, id, {
    status: "pending",
    attempts: 0,
    claims: 0,
    lastErrorCode: null,
    lastErrorMessage: null,
    lastHttpStatus: null,
    failedAt: null,
    occurredAt: receivedAt,
    receivedAt,
    ...rest,
  });
}

describe.each(backends)("POST /v1/events/cancel on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
  });
  afterAll(() => api?.close());
  beforeEach(async () => {
    await resetOutbox(api.db);
    // What ingest used to accept with 202: an event dated 2100, waiting until then.
    await insertPending(api.db, "far-1", {
      occurredAt: FAR_FUTURE,
      waitReason: "timestamp_in_future",
      nextAttemptAt: new Date(FAR_FUTURE.getTime() - 60_000),
      receivedHoursAgo: 5,
    });
    await insertPending(api.db, "due-1", { receivedHoursAgo: 3 });
    await insertPending(api.db, "other-1", { customerKey: "globex", receivedHoursAgo: 2 });
    await insertEvent(api.db, "dead-1");
    await insertEvent(api.db, "done-1", { status: "reported" });
  });

  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    api.call({ method: "POST", url: "/v1/events/cancel", payload: payload as object, headers });
  const ok = async (payload: unknown) => {
    const res = await post(payload);
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  it("pending events can be cancelled with a reason (a far-future event no longer waits forever)", async () => {
    const reason = "producer clock bug: dated 2100, never billable";
    const body = await ok({ ids: ["far-1"], reason });
    expect(body).toEqual({
      action: "cancel",
      dry_run: false,
      matched: 1,
      changed: 1,
      ids: ["far-1"],
      remaining: 0,
    });

    const row = await eventRow(api.db, "far-1");
    expect(row).toMatchObject({
      status: "discarded",
      lastErrorCode: "cancelled",
      waitReason: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      lastHttpStatus: null,
    });
    expect(row?.lastErrorMessage).toMatch(/^cancelled by key "test admin" \(id [^)]+\): /);
    expect(row?.lastErrorMessage?.endsWith(`: ${reason}`)).toBe(true);
    expect(Math.abs((row?.failedAt?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);

    const audit = await auditRows(api.db, "far-1");
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      attempt: 0,
      worker: "test admin",
      outcome: "operator_cancel",
    });
    expect(audit[0]?.message).toContain(`cancelled by key "test admin"`);
    expect(audit[0]?.message).toContain(reason);
    expect(audit[0]?.message).toContain("waiting: timestamp_in_future");
    expect(audit[0]?.message).toContain("never sent: Stripe does not hold it");

    // The trace tells the story: discarded, why, by whom.
    const trace = await api.call({ method: "GET", url: "/v1/events/far-1" });
    expect(trace.statusCode).toBe(200);
    expect(trace.json()).toMatchObject({
      status: "discarded",
      wait_reason: null,
      last_error: { code: "cancelled" },
      history: [expect.objectContaining({ outcome: "operator_cancel", worker: "test admin" })],
    });
    expect(trace.json().last_error.message).toContain(reason);
    expect(trace.json().history[0].message).toContain(reason);

    // Nothing else moved.
    expect((await eventRow(api.db, "due-1"))?.status).toBe("pending");
    // Once cancelled it is no longer pending: a second cancel is refused, with no second audit row.
    const again = await post({ ids: ["far-1"], reason });
    expect(again.statusCode).toBe(409);
    expect(apiError(again)).toMatchObject({ code: "event_not_pending", ids: ["far-1"] });
    expect(await auditRows(api.db, "far-1")).toHaveLength(1);
  });

  it("dry_run counts and samples, changes nothing", async () => {
    const before = await statuses(api.db);
    const body = await ok({ filter: { customer: "acme" }, reason: "x", dry_run: true });
    expect(body).toMatchObject({
      action: "cancel",
      dry_run: true,
      matched: 2,
      changed: 0,
      would_change: 2,
      ids: ["far-1", "due-1"],
    });
    const named = await ok({ ids: ["far-1"], reason: "x", dry_run: true });
    expect(named).toMatchObject({ matched: 1, changed: 0, would_change: 1, ids: ["far-1"] });
    expect(await statuses(api.db)).toEqual(before);
    expect(await auditRows(api.db, "far-1")).toEqual([]);
  });

  it("a leased event is refused: 409 for named ids (all or nothing), skipped by a filter", async () => {
    await insertPending(api.db, "busy-1", {
      leaseOwner: "w1",
      leaseExpiresAt: new Date(Date.now() + 60_000),
      claims: 1,
      receivedHoursAgo: 4,
    });
    const before = await statuses(api.db);
    for (const dryRun of [false, true]) {
      const res = await post({ ids: ["far-1", "busy-1"], reason: "x", dry_run: dryRun });
      expect(res.statusCode).toBe(409);
      expect(apiError(res)).toMatchObject({ code: "event_in_flight", ids: ["busy-1"] });
      expect(apiError(res).message).toContain("being sent to Stripe right now");
    }
    expect(await statuses(api.db)).toEqual(before);
    expect(await auditRows(api.db, "far-1")).toEqual([]);

    const body = await ok({ filter: { customer: "acme" }, reason: "x" });
    expect(body).toMatchObject({ matched: 3, changed: 2, ids: ["far-1", "due-1"], remaining: 0 });
    expect(body.refused).toMatchObject({ code: "event_in_flight", count: 1, ids: ["busy-1"] });
    expect(await eventRow(api.db, "busy-1")).toMatchObject({ status: "pending", leaseOwner: "w1" });
  });

  // Two sessions at once (a claim holding the row while the cancel waits): PGlite is one session.
  it.skipIf(kind !== "postgres")(
    "a named event a worker claims while the cancel waits for it is refused, not cancelled",
    async () => {
      const { cancel } = await api.db.transaction(async (tx) => {
        // A claim in progress: it holds the row and is leasing it when the cancel arrives.
        await tx.execute(sql`
          update usage_events set lease_owner = 'w9', claims = claims + 1,
                 lease_expires_at = now() + interval '1 minute'
           where id = 'due-1'`);
        const cancel = post({ ids: ["far-1", "due-1"], reason: "x" });
        expect(await waitsOnLock(api.db, cancel)).toBe(true);
        return { cancel };
      });
      const res = await cancel;
      expect(res.statusCode, res.body).toBe(409);
      expect(apiError(res)).toMatchObject({ code: "event_in_flight", ids: ["due-1"] });
      expect(await eventRow(api.db, "due-1")).toMatchObject({
        status: "pending",
        leaseOwner: "w9",
      });
      expect((await eventRow(api.db, "far-1"))?.status).toBe("pending");
      expect(await auditRows(api.db, "far-1")).toEqual([]);
    },
  );

  it("an expired lease is no one's: the event can be cancelled", async () => {
    await insertPending(api.db, "stale-1", {
      leaseOwner: "gone-worker",
      leaseExpiresAt: new Date(Date.now() - 60_000),
      claims: 1,
    });
    expect(await ok({ ids: ["stale-1"], reason: "x" })).toMatchObject({ changed: 1 });
    expect(await eventRow(api.db, "stale-1")).toMatchObject({
      status: "discarded",
      leaseOwner: null,
      leaseExpiresAt: null,
    });
  });

  it("an event sent before is cancelled, and the audit says Stripe may hold it", async () => {
    const firstSentAt = new Date(Date.now() - 2 * HOUR);
    await insertPending(api.db, "sent-1", {
      firstSentAt,
      firstAttemptAt: firstSentAt,
      attempts: 1,
      waitReason: "retry",
      lastErrorCode: "stripe_500",
      lastHttpStatus: 500,
      lastRequestId: "req_123",
    });
    const body = await ok({ ids: ["sent-1"], reason: "duplicate of sent-0" });
    expect(body).toMatchObject({ changed: 1, ids: ["sent-1"] });
    expect(body.sent_before).toMatchObject({ count: 1, ids: ["sent-1"] });
    expect(body.sent_before.message).toContain("meter event adjustment");
    const row = await eventRow(api.db, "sent-1");
    expect(row).toMatchObject({
      status: "discarded",
      lastErrorCode: "cancelled",
      lastHttpStatus: null,
      lastRequestId: null,
    });
    expect(row?.firstSentAt).toEqual(firstSentAt);
    expect(row?.lastErrorMessage).toContain('Stripe may hold it as identifier "sent-1"');
    const [audit] = await auditRows(api.db, "sent-1");
    expect(audit).toMatchObject({ attempt: 1, outcome: "operator_cancel" });
    expect(audit?.message).toContain("It WAS sent before");
    expect(audit?.message).toContain('meter event identifier "sent-1"');
    expect(audit?.message).toContain("meter event adjustment");
  });

  it("a named id that is not pending: 409 naming it; an unknown id: 404; nothing changes", async () => {
    const before = await statuses(api.db);
    const notPending = await post({ ids: ["far-1", "dead-1", "done-1"], reason: "x" });
    expect(notPending.statusCode).toBe(409);
    expect(apiError(notPending)).toMatchObject({
      code: "event_not_pending",
      ids: ["dead-1", "done-1"],
    });
    expect(apiError(notPending).message).toContain("dead-1 (failed), done-1 (reported)");
    expect(apiError(notPending).message).toContain("dlq discard");

    const unknown = await post({ ids: ["far-1", "nope"], reason: "x" });
    expect(unknown.statusCode).toBe(404);
    expect(apiError(unknown)).toMatchObject({ code: "event_not_found", ids: ["nope"] });

    expect(await statuses(api.db)).toEqual(before);
    expect(await auditRows(api.db, "far-1")).toEqual([]);
  });

  it("filters: customer, event_name, wait_reason, ages from received_at; only pending", async () => {
    await insertPending(api.db, "meter-2", { eventName: "tokens", receivedHoursAgo: 0.5 });
    const dry = (filter: object) => ok({ filter, reason: "x", dry_run: true });
    expect((await dry({ wait_reason: "timestamp_in_future" })).ids).toEqual(["far-1"]);
    expect((await dry({ event_name: "tokens" })).ids).toEqual(["meter-2"]);
    expect((await dry({ customer: "globex" })).ids).toEqual(["other-1"]);
    expect((await dry({ older_than: "4h" })).ids).toEqual(["far-1"]);
    expect((await dry({ newer_than: "150m" })).ids).toEqual(["other-1", "meter-2"]);
    expect((await dry({ older_than: "1h", newer_than: "4h" })).ids).toEqual(["due-1", "other-1"]);
    // The failed dead-1 and the reported done-1 are acme's too, and are never matched.
    const body = await ok({ filter: { customer: "acme" }, reason: "test customer" });
    expect(body).toMatchObject({ matched: 3, changed: 3, ids: ["far-1", "due-1", "meter-2"] });
    expect((await eventRow(api.db, "dead-1"))?.status).toBe("failed");
    expect((await eventRow(api.db, "done-1"))?.status).toBe("reported");
    expect(await auditRows(api.db, "dead-1")).toEqual([]);
  });

  it("changes at most limit per call, oldest received first, and says what remains", async () => {
    const body = await ok({ filter: { older_than: "1m" }, reason: "x", limit: 2 });
    expect(body).toMatchObject({ matched: 3, changed: 2, ids: ["far-1", "due-1"], remaining: 1 });
    expect((await ok({ filter: { older_than: "1m" }, reason: "x" })).ids).toEqual(["other-1"]);
  });

  it("concurrent operators cannot double-cancel", async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, () => ok({ filter: { customer: "acme" }, reason: "x" })),
    );
    expect(results.reduce((n, r) => n + r.changed, 0)).toBe(2);
    expect(await auditRows(api.db, "far-1")).toHaveLength(1);
    expect(await auditRows(api.db, "due-1")).toHaveLength(1);
  });

  it("needs an admin key: 403 for an ingest key", async () => {
    const res = await post(
      { ids: ["far-1"], reason: "x" },
      { authorization: `Bearer ${api.ingestKey}` },
    );
    expect(res.statusCode).toBe(403);
    expect(apiError(res).code).toBe("forbidden");
    const anonymous = await api.app.inject({
      method: "POST",
      url: "/v1/events/cancel",
      payload: { ids: ["far-1"], reason: "x" },
    });
    expect(anonymous.statusCode).toBe(401);
    expect((await eventRow(api.db, "far-1"))?.status).toBe("pending");
  });

  it.each([
    [{ ids: ["far-1"] }, "reason", "reason is required"],
    [{ ids: ["far-1"], reason: "  " }, "reason", "reason must be a string of 1 to 500 characters"],
    [{ ids: ["far-1"], reason: "x".repeat(501) }, "reason", "reason must be a string of 1 to 500"],
    [{ ids: ["far-1"], reason: 7 }, "reason", "reason must be a string"],
    [{ reason: "x" }, "ids", "ids or filter is required"],
    [{ ids: ["far-1"], filter: { customer: "acme" }, reason: "x" }, "ids", "cannot be combined"],
    [{ ids: [], reason: "x" }, "ids", "ids must be a list of 1 to 1000 event ids"],
    [{ ids: ["bad id"], reason: "x" }, "ids", "ids must be a list"],
    [{ filter: {}, reason: "x" }, "filter", "filter must set at least one of customer"],
    [{ filter: [], reason: "x" }, "filter", "filter must be a JSON object"],
    [{ filter: { code: "x" }, reason: "x" }, "filter.code", "filter.code is not a known field"],
    [
      { filter: { wait_reson: "retry" }, reason: "x" },
      "filter.wait_reson",
      "did you mean wait_reason?",
    ],
    [
      { filter: { wait_reason: "a b" }, reason: "x" },
      "filter.wait_reason",
      "must be a wait reason",
    ],
    [
      { filter: { older_than: "1 hour" }, reason: "x" },
      "filter.older_than",
      "filter.older_than must be a duration like 30m, 2h or 7d",
    ],
    [
      { filter: { older_than: "2h", newer_than: "1h" }, reason: "x" },
      "filter.newer_than",
      "must be longer than filter.older_than",
    ],
    [{ filter: { customer: "acme" }, reason: "x", limit: 0 }, "limit", "limit must be a whole"],
    [{ ids: ["far-1"], reason: "x", dry_run: "yes" }, "dry_run", "dry_run must be true or false"],
    [{ ids: ["far-1"], reason: "x", note: "y" }, "note", "note is not a known field"],
  ])("400 invalid_body for %j", async (payload, field, message) => {
    const before = await statuses(api.db);
    const res = await post(payload);
    expect(res.statusCode, res.body).toBe(400);
    expect(apiError(res)).toMatchObject({ code: "invalid_body", field });
    expect(apiError(res).message).toContain(message);
    expect(await statuses(api.db)).toEqual(before);
  });
});
