import type { FastifyReply, FastifyRequest } from "fastify";
import type { ApiKey, ApiKeyRole } from "../db/schema/api-keys.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import type { ApiKeyVerifier } from "./api-key-cache.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The key that authenticated the request; null on public routes. */
    apiKey: ApiKey | null;
  }
  interface FastifyContextConfig {
    /** The role a /v1 route needs. Unset means admin: a route forgotten here is closed, not open. */
    role?: ApiKeyRole;
  }
}

/** What an Authorization header holds: no header, a bearer secret, or something else. */
export type Credentials =
  | { kind: "missing" }
  | { kind: "bearer"; secret: string }
  | { kind: "malformed" };

/** Reads `Authorization: Bearer <secret>` (the scheme is case-insensitive, per RFC 7235). */
export function readCredentials(header: string | undefined): Credentials {
  if (header === undefined || header.trim() === "") return { kind: "missing" };
  const match = /^bearer\s+(\S+)\s*$/i.exec(header.trim());
  return match?.[1] ? { kind: "bearer", secret: match[1] } : { kind: "malformed" };
}

/** True when a key of role `has` may call a route that needs `needs`: admin may do everything. */
export function roleAllows(has: ApiKeyRole, needs: ApiKeyRole): boolean {
  return has === "admin" || has === needs;
}

/**
 * Decides a request's fate from its credentials and the key they matched (null: none did).
 * Pure, so the rules read in one place: 401 says whether the key was missing or invalid;
 * 403 names the role needed.
 */
export function authorize(
  credentials: Credentials,
  key: ApiKey | null,
  needs: ApiKeyRole,
): ApiError | null {
  if (credentials.kind === "missing") {
    return new ApiError(
      401,
      ErrorCode.unauthorized,
      "missing API key: send Authorization: Bearer <secret>",
    );
  }
  if (credentials.kind === "malformed") {
    return new ApiError(
      401,
      ErrorCode.unauthorized,
      "invalid Authorization header: expected Bearer <secret>",
    );
  }
  if (key === null) {
    return new ApiError(
      401,
      ErrorCode.unauthorized,
      "invalid API key: unknown, revoked or expired",
    );
  }
  if (!roleAllows(key.role, needs)) {
    return new ApiError(
      403,
      ErrorCode.forbidden,
      `this route needs an ${needs} key; key "${key.name}" has role ${key.role}`,
    );
  }
  return null;
}

/**
 * An onRequest hook that authenticates every request of its scope against the route's role.
 * It runs before the body is read, so an anonymous caller cannot make the server parse a
 * megabyte. Keys come from a cache (api-key-cache.ts): a revocation takes effect at once in this
 * process, within milliseconds in the others on Postgres, and within its TTL whatever happens.
 */
export function authenticate(keys: ApiKeyVerifier) {
  return async function checkApiKey(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const credentials = readCredentials(request.headers.authorization);
    const key = credentials.kind === "bearer" ? await keys.verify(credentials.secret) : null;
    const problem = authorize(credentials, key, request.routeOptions.config.role ?? "admin");
    if (problem) {
      if (problem.status === 401) reply.header("www-authenticate", 'Bearer realm="meterline"');
      throw problem;
    }
    request.apiKey = key;
  };
}
