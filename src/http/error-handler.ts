import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import { MAX_PARAM_LENGTH } from "./limits.ts";
import { BODY_TOO_LARGE_MESSAGE, undrainable } from "./oversize-body.ts";
import { noteRefusal } from "./request-log.ts";

/** The JSON body of every error response. */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    field?: string;
    errors?: ApiError["details"]["errors"];
    /** Present (true) when `errors` lists only the first `errors.length` of `total_errors`. */
    truncated?: boolean;
    total_errors?: number;
    ids?: string[];
  };
}

/** Fastify's own client errors, by fastify code: our stable code and a message for people. */
const fastifyErrors: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: ErrorCode.invalid_json,
    message: "body is not valid JSON",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: ErrorCode.invalid_json,
    message: "body is empty but Content-Type is application/json",
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: ErrorCode.body_too_large,
    message: BODY_TOO_LARGE_MESSAGE,
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: ErrorCode.unsupported_media_type,
    message: "Content-Type must be application/json",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: ErrorCode.invalid_content_length,
    message: "body size does not match Content-Length",
  },
  // The path is not echoed: it may be long, and it is what the client sent anyway.
  FST_ERR_BAD_URL: {
    code: ErrorCode.invalid_url,
    message:
      "the URL path is not valid: every % must start a %XX escape, and the escapes must decode to UTF-8",
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    code: ErrorCode.url_too_long,
    message: `a URL path segment is longer than ${MAX_PARAM_LENGTH} characters`,
  },
};

/** Stable codes for other client errors fastify raises, by status. */
const codeByStatus: Record<number, ErrorCode> = {
  400: ErrorCode.bad_request,
  404: ErrorCode.not_found,
  405: ErrorCode.method_not_allowed,
  408: ErrorCode.request_timeout,
  413: ErrorCode.body_too_large,
  414: ErrorCode.url_too_long,
  415: ErrorCode.unsupported_media_type,
  431: ErrorCode.headers_too_large,
};

// Postgres SQLSTATE classes that mean "the database is unavailable or busy", not "the code is
// wrong": 08 connection, 53 resources, 57 operator intervention (shutdown), 40 rollback (deadlock,
// serialization). The client should retry, so 503 rather than 500.
const UNAVAILABLE_SQLSTATE = /^(08|53|57|40)/;
const UNAVAILABLE_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
]);

/**
 * Maps anything thrown while handling a request to the ApiError it is answered with. Only a
 * genuine server fault becomes 500 `internal_error`; a client's mistake never does.
 */
export function toApiError(err: unknown, requestId: string): ApiError {
  if (err instanceof ApiError) return err;
  const fastify = asFastifyError(err);
  if (fastify?.code !== undefined) {
    const known = fastifyErrors[fastify.code];
    if (known) return new ApiError(fastify.statusCode ?? 400, known.code, known.message);
  }
  const status = fastify?.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new ApiError(
      status,
      codeByStatus[status] ?? ErrorCode.bad_request,
      fastify?.message ?? "bad request",
    );
  }
  if (databaseUnavailable(err)) {
    return new ApiError(
      503,
      ErrorCode.service_unavailable,
      "the database is unavailable; retry shortly",
    );
  }
  return new ApiError(
    500,
    ErrorCode.internal_error,
    `internal error (request ${requestId}); the server log has the details`,
  );
}

/** Renders an ApiError as the JSON error body. */
export function errorBody(error: ApiError): ErrorBody {
  const { field, errors, truncated, totalErrors, ids } = error.details;
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(field !== undefined ? { field } : {}),
      ...(errors !== undefined ? { errors } : {}),
      ...(truncated === true
        ? { truncated, total_errors: totalErrors ?? errors?.length ?? 0 }
        : {}),
      ...(ids !== undefined ? { ids } : {}),
    },
  };
}

/** The app's one error handler: every error response goes through here. */
export function handleError(
  err: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const api = toApiError(err, request.id);
  if (api.status >= 500) request.log.error({ err }, "request failed: %s", api.code);
  // A client's mistake is the client's to log: here it is only its request line's code, at debug.
  else noteRefusal(request, api.code);
  if (api.status === 503) reply.header("retry-after", "1");
  if (undrainable(request)) reply.header("connection", "close");
  return reply.status(api.status).send(errorBody(api));
}

function asFastifyError(
  err: unknown,
): { code?: string; statusCode?: number; message: string } | null {
  if (!(err instanceof Error)) return null;
  const e = err as Error & { code?: unknown; statusCode?: unknown };
  // Database errors carry string codes too (SQLSTATE); only FST_ codes and statuses count here.
  return {
    ...(typeof e.code === "string" && e.code.startsWith("FST_") ? { code: e.code } : {}),
    ...(typeof e.statusCode === "number" ? { statusCode: e.statusCode } : {}),
    message: e.message,
  };
}

function databaseUnavailable(err: unknown): boolean {
  // Drizzle wraps driver errors; the SQLSTATE or errno sits somewhere down the cause chain.
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as Error & { code?: unknown }).code;
    if (
      typeof code === "string" &&
      (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))
    ) {
      return true;
    }
    e = e.cause;
  }
  return false;
}
