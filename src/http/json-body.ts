import type { FastifyInstance } from "fastify";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";

/**
 * Makes application/json the only body type (anything else is 415) and says where a malformed
 * body broke. Parsing stays fastify's secure parser, which refuses `__proto__` and
 * `constructor.prototype` keys (prototype poisoning); only the error message is ours.
 */
export function installJsonParser(app: FastifyInstance): void {
  const secureParse = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") {
      done(
        new ApiError(
          400,
          ErrorCode.invalid_json,
          "body is empty but Content-Type is application/json",
        ),
      );
      return;
    }
    secureParse(request, text, (err, value) => {
      done(
        err
          ? new ApiError(400, ErrorCode.invalid_json, `body is not valid JSON: ${why(text)}`)
          : null,
        value,
      );
    });
  });
}

/** Why JSON.parse refuses the text, or that the secure parser refused a poisoning key. */
function why(text: string): string {
  try {
    JSON.parse(text);
    return "__proto__ and constructor.prototype keys are not allowed";
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
