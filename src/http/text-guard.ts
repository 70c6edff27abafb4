import type { FastifyInstance } from "fastify";
import { ErrorCode } from "../lib/error-codes.ts";
import { findTextFaults } from "../validation/find-text-faults.ts";
import { ItemErrorList, listError } from "../validation/item-error-list.ts";

/**
 * Refuses, before any route reads them, path parameters, query parameters and JSON bodies holding
 * a string Postgres text cannot store (NUL, an unpaired surrogate): 400 invalid_characters naming
 * each field (`key`, `customer`, `events[3].customer`, `filter.code`). One hook for every route,
 * so no route can forget it; otherwise the database refuses the query and the client gets a 500.
 */
export function installTextGuard(app: FastifyInstance): void {
  app.addHook("preValidation", async (request) => {
    const faults = new ItemErrorList();
    findTextFaults(request.params, faults);
    findTextFaults(request.query, faults);
    // A raw body (a Buffer, for a signed webhook) is bytes, not text: only parsed JSON is walked.
    if (!Buffer.isBuffer(request.body)) findTextFaults(request.body, faults);
    if (faults.total > 0) {
      throw listError(ErrorCode.invalid_characters, faults.listed, faults.total);
    }
  });
}
