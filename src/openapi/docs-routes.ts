import type { FastifyPluginAsync } from "fastify";
import { packageVersion } from "../lib/version.ts";
import { docsPage } from "./docs-page.ts";
import { type OpenApiDocument, openApiDocument } from "./openapi.ts";
import type { BookedRoute } from "./route-book.ts";

/** Paths of the reference itself: no key, since they tell nothing a client could not try. */
export const DOCS_PATHS = { json: "/openapi.json", html: "/docs" } as const;

/**
 * GET /openapi.json (the OpenAPI 3.1 document) and GET /docs (the same as a page), both built
 * on the first request, once every route is registered, and kept: routes do not change while
 * the process runs.
 */
export const docsRoutes: FastifyPluginAsync<{ routes: readonly BookedRoute[] }> = async (
  app,
  { routes },
) => {
  let doc: OpenApiDocument | null = null;
  let page: string | null = null;
  const document = () => {
    doc ??= openApiDocument(routes, packageVersion());
    return doc;
  };
  app.get(DOCS_PATHS.json, async () => document());
  app.get(DOCS_PATHS.html, async (_request, reply) => {
    page ??= docsPage(document());
    return reply
      .type("text/html; charset=utf-8")
      .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
      .send(page);
  });
};
