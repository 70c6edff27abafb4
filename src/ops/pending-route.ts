import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { Db } from "../db/connect.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { cancelPending } from "../outbox/cancel-pending.ts";
import { cancelBodyDoc, cancelBodyRules, parseCancelBody } from "./pending-input.ts";
import {
  cancelView,
  cancelViewSchema,
  inFlightMessage,
  notPendingMessage,
  unknownIdsMessage,
} from "./pending-view.ts";

const doc: RouteDoc = {
  tag: "Events",
  summary: "Cancel pending events that must never be sent: named ids, or a filter's matches.",
  description:
    "Pending → discarded, with the person's `reason`. Exactly one of `ids` and `filter`; " +
    '`"dry_run": true` changes nothing. Named ids are all or nothing: an unknown id is a 404, ' +
    "a named event that is not pending or is being sent right now a 409, and then nothing is " +
    "cancelled.",
  body: cancelBodyDoc,
  rules: cancelBodyRules,
  responses: { 200: cancelViewSchema },
  errors: {
    400: [ErrorCode.invalid_body],
    404: [ErrorCode.event_not_found],
    409: [ErrorCode.event_not_pending, ErrorCode.event_in_flight],
  },
};

/**
 * Pending events, for operators (admin role: no route here sets config.role):
 * POST /v1/events/cancel cancels named ids or a filter's matches (pending → discarded, with the
 * person's reason), one guarded statement per batch, and answers {matched, changed, ids, …};
 * dry_run changes nothing. For the events that must never be sent: a producer's clock in 2100,
 * a test customer's usage. Named ids are all or nothing: an unknown id is a 404, a named event
 * that is not pending or is being sent right now a 409, and then nothing is cancelled.
 */
export const pendingRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.post("/events/cancel", { config: { doc } }, async (request) => {
    const input = parseCancelBody(request.body);
    const named = "ids" in input.target;
    const outcome = await cancelPending(db, {
      target: input.target,
      dryRun: input.dryRun,
      // Named ids go in one statement whatever the limit: the operator named exactly these.
      limit: "ids" in input.target ? input.target.ids.length : input.limit,
      actor: actor(request),
      worker: request.apiKey?.name ?? "operator",
      reason: input.reason,
    });
    if (named) {
      // The statement changed none of them (all or nothing): say which and why.
      if (outcome.unknownIds.length > 0) {
        throw new ApiError(404, ErrorCode.event_not_found, unknownIdsMessage(outcome.unknownIds), {
          ids: outcome.unknownIds,
        });
      }
      if (outcome.notPending.length > 0) {
        throw new ApiError(
          409,
          ErrorCode.event_not_pending,
          notPendingMessage(outcome.notPending),
          { ids: outcome.notPending.map((e) => e.id) },
        );
      }
      if (outcome.refused > 0) {
        throw new ApiError(
          409,
          ErrorCode.event_in_flight,
          `nothing was cancelled: ${inFlightMessage(outcome.refused)}`,
          { ids: outcome.refusedIds },
        );
      }
    }
    return cancelView(input.dryRun, outcome);
  });
};

/** Who acts, for the messages: the API key's name (a person's or a script's) and id. */
function actor(request: FastifyRequest): string {
  const key = request.apiKey;
  return key ? `key "${key.name}" (id ${key.id})` : "an unknown key";
}
