import type { z } from "zod";
import type { ErrorCode } from "../lib/error-codes.ts";

/**
 * What the API reference says about one route, from the zod schemas its handler parses with:
 * the document cannot drift from the checks that run. Set as the route's `config.doc`; the
 * route book (route-book.ts) collects it and openapi.ts renders it.
 */
export interface RouteDoc {
  /** One line: what the route does. */
  summary: string;
  /** What a caller needs beyond the summary: rules, side effects, what to do next. */
  description?: string;
  /** The group the reference lists the route under (Events, Customers, Dead letters…). */
  tag: string;
  /** Path parameters, by name, as the handler checks them. */
  params?: z.ZodObject;
  /** Query-string parameters, by name, as the handler checks them. */
  query?: z.ZodObject;
  /** The JSON body, as the handler parses it. */
  body?: z.ZodType;
  /** The sentence after a field's name in an error ("must be …"): shown as its description. */
  rules?: Readonly<Record<string, string>>;
  /** Each success status and the body it answers with. */
  responses: Readonly<Record<number, z.ZodType>>;
  /**
   * The route's own refusals, by status. Those every route of its kind shares (a bad key, a body
   * that is not JSON, a NUL in a string, a database outage) are added by openapi.ts.
   */
  errors?: Readonly<Record<number, readonly ErrorCode[]>>;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route's entry in /openapi.json and /docs; a route without one fails the contract test. */
    doc?: RouteDoc;
  }
}
