import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyPluginAsync } from "fastify";

/**
 * The page's files, read once at start. They sit beside this module in static/, in src/ and in
 * dist/ alike (scripts/build.js copies them), so `npm start` serves them from the build.
 */
const FILES = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "icon.svg": "image/svg+xml",
} as const;

/**
 * Only the page's own files run or style it; it talks to its own origin only, submits no form
 * anywhere, and may not be framed. No inline script or style, so an injected string cannot run.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/**
 * GET /dashboard: the on-call page, without a key. The page asks for the admin key in a sign-in
 * form and sends it on each call to /v1 as `Authorization: Bearer`; the key never goes in a URL.
 * GET / sends a browser there.
 */
export const dashboardPage: FastifyPluginAsync = async (app) => {
  const dir = join(import.meta.dirname, "static");
  const files = new Map(
    Object.entries(FILES).map(([name, type]) => [
      name,
      { type, body: readFileSync(join(dir, name)) },
    ]),
  );
  const send = (name: keyof typeof FILES) => {
    const file = files.get(name);
    if (!file) throw new Error(`dashboard file ${name} was not loaded`);
    return file;
  };
  const headers = {
    "content-security-policy": DASHBOARD_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
  };

  app.get("/", async (_request, reply) => reply.redirect("/dashboard"));
  app.get("/dashboard", async (_request, reply) => {
    const file = send("index.html");
    return reply.headers(headers).type(file.type).send(file.body);
  });
  for (const name of ["app.js", "app.css", "icon.svg"] as const) {
    app.get(`/dashboard/${name}`, async (_request, reply) => {
      const file = send(name);
      return reply.headers(headers).type(file.type).send(file.body);
    });
  }
};
