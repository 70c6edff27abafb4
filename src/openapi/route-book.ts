import type { FastifyInstance } from "fastify";
import type { ApiKeyRole } from "../db/schema/api-keys.ts";
import type { RouteDoc } from "./route-doc.ts";

/** One registered method and path, with its documentation when it has some. */
export interface BookedRoute {
  method: string;
  /** As fastify registered it, prefix included: `/v1/customers/:key`. */
  url: string;
  doc: RouteDoc | null;
  /** The key role it needs; null for a route without a key check (outside /v1). */
  role: ApiKeyRole | null;
}

const books = new WeakMap<FastifyInstance, BookedRoute[]>();

/**
 * Records every route registered on `app` from now on (call before registering any), so the
 * API reference lists them and a test can find the ones left undocumented. Fastify's automatic
 * HEAD routes are left out: they answer as their GET does.
 */
export function installRouteBook(app: FastifyInstance): readonly BookedRoute[] {
  const book: BookedRoute[] = [];
  books.set(app, book);
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === "HEAD") continue;
      book.push({
        method: String(method),
        url: route.url,
        doc: route.config?.doc ?? null,
        // Every /v1 route checks a key; unset means admin (http/auth.ts).
        role: route.url.startsWith("/v1/") ? (route.config?.role ?? "admin") : null,
      });
    }
  });
  return book;
}

/** The routes registered on `app` since installRouteBook; empty when it was not installed. */
export function bookedRoutes(app: FastifyInstance): readonly BookedRoute[] {
  return books.get(app) ?? [];
}
