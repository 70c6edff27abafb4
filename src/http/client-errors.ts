import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import { errorBody } from "./error-handler.ts";

/**
 * What Node's HTTP parser refused, as the ApiError it is answered with. These bytes never became
 * a request (no route, no hooks, no request id), so the answer is written to the socket directly.
 */
export function clientErrorAnswer(err: Error & { code?: unknown }): ApiError {
  const code = typeof err.code === "string" ? err.code : "unknown";
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return new ApiError(408, ErrorCode.request_timeout, "the request was not received in time");
  }
  if (code === "HPE_HEADER_OVERFLOW") {
    return new ApiError(
      431,
      ErrorCode.headers_too_large,
      "the request line and headers exceed 16 KiB: shorten the URL (or the headers)",
    );
  }
  return new ApiError(
    400,
    ErrorCode.malformed_request,
    `the request is not valid HTTP/1.1 (${code}): check the request line and the header names and values`,
  );
}

/**
 * Fastify's clientErrorHandler: answers malformed HTTP in our error shape, then closes the
 * connection (the parser cannot find the next request in bytes it could not read).
 */
export function handleClientError(err: Error & { code?: unknown }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable) {
    const api = clientErrorAnswer(err);
    const body = JSON.stringify(errorBody(api));
    socket.write(
      `HTTP/1.1 ${api.status} ${STATUS_CODES[api.status] ?? "Error"}\r\n` +
        "Content-Type: application/json; charset=utf-8\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
    );
  }
  socket.destroy(err);
}
