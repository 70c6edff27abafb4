import type { JsonSchema, OpenApiDocument, Operation } from "./openapi.ts";

/**
 * The API reference as one HTML page, rendered from the OpenAPI document: no script, no fonts,
 * nothing fetched, so it reads the same offline, behind a firewall or in a terminal browser.
 * Pure.
 */
export function docsPage(doc: OpenApiDocument): string {
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
  const sections = doc.tags.map(({ name }) => {
    const ops = operations.filter((o) => o.op.tags.includes(name));
    return `<section><h2 id="${anchor(name)}">${esc(name)}</h2>${ops.map((o) => operationHtml(o.method, o.path, o.op)).join("")}</section>`;
  });
  const toc = doc.tags
    .map(({ name }) => {
      const ops = operations.filter((o) => o.op.tags.includes(name));
      const items = ops
        .map(
          (o) =>
            `<li><a href="#${o.op.operationId}"><code>${o.method.toUpperCase()} ${esc(o.path)}</code></a></li>`,
        )
        .join("");
      return `<li><a href="#${anchor(name)}">${esc(name)}</a><ul>${items}</ul></li>`;
    })
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)} ${esc(doc.info.version)}</title>
<style>${STYLE}</style></head>
<body><header><h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${inline(doc.info.description)}</p>
<p>The same reference as JSON: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p></header>
<nav><ul>${toc}</ul></nav>
<main>${sections.join("")}</main></body></html>
`;
}

function operationHtml(method: string, path: string, op: Operation): string {
  const auth =
    op["x-role"] === undefined
      ? "No key needed."
      : `Needs ${op["x-role"] === "admin" ? "an admin" : "an ingest (or admin)"} key.`;
  const params = op.parameters ?? [];
  const paramRows = params
    .map(
      (p) =>
        `<tr><td><code>${esc(p.name)}</code></td><td>${p.in}</td><td>${p.required ? "yes" : "no"}</td><td>${schemaLine(p.schema)}${p.description ? `<br>${esc(p.description)}` : ""}</td></tr>`,
    )
    .join("");
  const body = op.requestBody?.content["application/json"].schema;
  const responses = Object.entries(op.responses)
    .map(([status, r]) => {
      if (Number(status) >= 400) {
        const codes = r.description.split(", ").map((c) => `<code>${esc(c)}</code>`);
        return `<p class="err"><b>${status}</b> ${codes.join(", ")}</p>`;
      }
      return `<p><b>${status}</b> ${esc(r.description)}</p>${schemaHtml(r.content["application/json"].schema)}`;
    })
    .join("");
  return `<article id="${op.operationId}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary)} ${auth}</p>${op.description ? `<p>${inline(op.description)}</p>` : ""}
${params.length > 0 ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>rule</th></tr>${paramRows}</table>` : ""}
${body ? `<h4>Body (application/json)</h4>${schemaHtml(body)}` : ""}
<h4>Responses</h4>${responses}
<p class="note">Error answers: <code>{"error": {"code", "message", "field"?, "errors"?, "ids"?}}</code>, with the codes listed by status.</p>
</article>`;
}

/** A schema as a nested list of its fields: name, type, whether required, rule. */
function schemaHtml(schema: JsonSchema): string {
  const variants = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (variants !== undefined) {
    return `<p>One of:</p><ol>${variants.map((v) => `<li>${schemaHtml(v)}</li>`).join("")}</ol>`;
  }
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (properties === undefined) {
    const items = schema.items as JsonSchema | undefined;
    if (items?.properties !== undefined)
      return `<p>${schemaLine(schema)} of:</p>${schemaHtml(items)}`;
    return `<p>${schemaLine(schema)}</p>`;
  }
  const required = new Set((schema.required ?? []) as string[]);
  const rows = Object.entries(properties).map(([name, p]) => {
    const nested = nestedObject(p);
    const note = typeof p.description === "string" ? ` — ${esc(p.description)}` : "";
    return `<li><code>${esc(name)}</code>${required.has(name) ? "" : " <i>optional</i>"}: ${schemaLine(p)}${note}${nested ? schemaHtml(nested) : ""}</li>`;
  });
  return `<ul class="fields">${rows.join("")}</ul>`;
}

/** The object schema inside a field (itself, an array's items, or a nullable's object), if any. */
function nestedObject(p: JsonSchema): JsonSchema | null {
  if (p.properties !== undefined) return p;
  const items = p.items as JsonSchema | undefined;
  if (items?.properties !== undefined) return items;
  const variants = (p.anyOf ?? p.oneOf) as JsonSchema[] | undefined;
  return variants?.find((v) => v.properties !== undefined) ?? null;
}

/** A field's type and bounds in a few words: `string, 1–255 chars, pattern ^cus_\w+$`. */
function schemaLine(s: JsonSchema): string {
  const parts: string[] = [];
  const variants = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (variants !== undefined) parts.push(variants.map((v) => schemaLine(v)).join(" or "));
  if (s.enum !== undefined)
    parts.push(
      `one of ${(s.enum as unknown[]).map((v) => `<code>${esc(JSON.stringify(v))}</code>`).join(", ")}`,
    );
  else if (s.const !== undefined) parts.push(`<code>${esc(JSON.stringify(s.const))}</code>`);
  else if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type.join(" or ") : String(s.type);
    const items = s.items as JsonSchema | undefined;
    parts.push(types === "array" && items ? `array of ${schemaLine(items)}` : types);
  }
  if (s.minLength !== undefined || s.maxLength !== undefined) {
    parts.push(`${s.minLength ?? 0}–${s.maxLength ?? "∞"} chars`);
  }
  if (s.minItems !== undefined || s.maxItems !== undefined) {
    parts.push(`${s.minItems ?? 0}–${s.maxItems ?? "∞"} items`);
  }
  // zod bounds every integer by JavaScript's safe range: only a tighter bound says something.
  const min = s.minimum === -Number.MAX_SAFE_INTEGER ? undefined : s.minimum;
  const max = s.maximum === Number.MAX_SAFE_INTEGER ? undefined : s.maximum;
  if (min !== undefined && max !== undefined) parts.push(`${min} to ${max}`);
  else if (min !== undefined) parts.push(`≥ ${min}`);
  else if (max !== undefined) parts.push(`≤ ${max}`);
  if (s.format !== undefined) parts.push(`format ${esc(String(s.format))}`);
  else if (s.pattern !== undefined) parts.push(`pattern <code>${esc(String(s.pattern))}</code>`);
  if (s.default !== undefined) parts.push(`default ${esc(JSON.stringify(s.default))}`);
  return parts.join(", ") || "any";
}

function anchor(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

/** Escapes text for HTML; then `code spans` become <code>. */
function inline(text: string): string {
  return esc(text).replace(/`([^`]+)`/g, "<code>$1</code>");
}

function esc(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem 1.5rem;color:#1d1d1f}
h1 small{font-size:.6em;color:#666}h2{border-bottom:2px solid #ddd;margin-top:2.5rem}
article{border:1px solid #e3e3e3;border-radius:6px;padding:.25rem 1rem .75rem;margin:1rem 0}
h3{font-size:1.05rem}h4{margin:.75rem 0 .25rem}code{font:13px ui-monospace,monospace;background:#f4f4f6;padding:0 .2em;border-radius:3px}
.m{font:bold 12px ui-monospace,monospace;padding:.15em .45em;border-radius:3px;color:#fff;background:#555}
.get{background:#2f6fb3}.post{background:#2e8540}.put{background:#a3650b}.delete{background:#b22d2d}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
ul.fields{margin:.25rem 0;padding-left:1.25rem}p.err{margin:.1rem 0}.note{color:#555;font-size:13px}
nav ul{padding-left:1.25rem}`;
