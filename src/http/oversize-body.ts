import { Transform } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import { BODY_LIMIT_TEXT } from "./limits.ts";

/**
 * A body declared up to this size is read to its end before the 413 goes out; a larger one is
 * refused at once and its connection closed, so nobody can make the server read gigabytes.
 */
export const DRAIN_LIMIT = 16 * 1024 * 1024;

/** What a 413 says, whichever check refused the body (fastify's own answers with it too). */
export const BODY_TOO_LARGE_MESSAGE = `body exceeds the ${BODY_LIMIT_TEXT} limit: send at most 1,000 events per request`;

/** The 413 for a body over the limit, declared or counted. */
export function bodyTooLarge(): ApiError {
  return new ApiError(413, ErrorCode.body_too_large, BODY_TOO_LARGE_MESSAGE);
}

/**
 * Answers a body whose Content-Length is over the route's limit with 413 only once the body has
 * arrived. Fastify's own check answers as soon as the headers are read, with `Connection: close`:
 * a client still uploading then writes into a closed socket, and fetch reports EPIPE instead of
 * the 413 — one oversized batch in a few dozen, measured across two processes. Reading the rest
 * first (nginx's "lingering close") lets the client read the answer, and the connection stays
 * open for its next request. A chunked body declares no length: it is counted as it arrives
 * (countedBody), and the 413 goes out once it has ended.
 */
export function installOversizeDrain(app: FastifyInstance): void {
  app.addHook("preParsing", async (request, _reply, payload) => {
    const limit = request.routeOptions.bodyLimit;
    if (request.headers["content-length"] === undefined) {
      return request.headers["transfer-encoding"] ? payload.pipe(countedBody(limit)) : payload;
    }
    const declared = Number(request.headers["content-length"]);
    if (!(declared > limit)) return payload;
    // Past the drain limit the answer closes the connection (handleError: undrainable).
    if (declared > DRAIN_LIMIT) throw bodyTooLarge();
    for await (const _chunk of payload) {
      // Discarded: only reaching the end matters.
    }
    throw bodyTooLarge();
  });
}

/**
 * True when an answer must close its connection: the request's body has not all arrived, and
 * nothing bounds what is left of it: it declares more than DRAIN_LIMIT, or it is chunked and
 * declares nothing (refused before it was read, by its size, a missing key or an unknown route).
 * Node reads an unread body to its end to keep the connection open; this one it would read for
 * as long as the client sends, so the connection goes instead. A body read to its end (an
 * answer about its content) or a small declared one keeps the connection.
 */
export function undrainable(request: FastifyRequest): boolean {
  if (request.raw.complete) return false;
  const declared = request.headers["content-length"];
  return declared === undefined
    ? request.headers["transfer-encoding"] !== undefined
    : Number(declared) > DRAIN_LIMIT;
}

/**
 * Passes a chunked body through up to `limit` bytes. Past it, nothing more is passed on (the
 * parser never holds more than the limit) but the rest is read to its end, and the stream then
 * fails with the 413: the client has finished sending when the answer comes. Past DRAIN_LIMIT it
 * fails at once.
 */
function countedBody(limit: number): Transform {
  let received = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > DRAIN_LIMIT) callback(bodyTooLarge());
      else callback(null, received > limit ? undefined : chunk);
    },
    flush(callback) {
      callback(received > limit ? bodyTooLarge() : null);
    },
  });
}
