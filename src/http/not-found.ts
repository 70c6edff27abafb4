import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";

/** A registered route, reduced to what telling 404 from 405 needs. */
interface KnownRoute {
  pattern: RegExp;
  methods: string[];
}

/** Turns a route URL (`/v1/customers/:key`) into a regex matching concrete paths. */
export function routePattern(url: string): RegExp {
  const segments = url.split("/").map((segment) => {
    if (segment.startsWith(":")) return "[^/]+";
    if (segment === "*") return ".*";
    return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  });
  return new RegExp(`^${segments.join("/")}$`);
}

/** The methods the routes allow on a concrete path; empty when no route has that path. */
export function allowedMethods(routes: readonly KnownRoute[], path: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
  }
  return [...methods].sort();
}

/**
 * Installs the not-found handler: 405 `method_not_allowed` with an Allow header when the path
 * exists under another method, else 404 `not_found`. Call before any route is registered, so the
 * onRoute hook sees them all.
 */
export function installNotFound(app: FastifyInstance): void {
  const routes: KnownRoute[] = [];
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    routes.push({ pattern: routePattern(route.url), methods: methods.map(String) });
  });
  app.setNotFoundHandler(async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0] ?? "/";
    const allowed = allowedMethods(routes, path);
    if (allowed.length > 0) {
      reply.header("allow", allowed.join(", "));
      throw new ApiError(
        405,
        ErrorCode.method_not_allowed,
        `${request.method} is not allowed on ${path}; allowed: ${allowed.join(", ")}`,
      );
    }
    throw new ApiError(404, ErrorCode.not_found, `no route for ${request.method} ${path}`);
  });
}
