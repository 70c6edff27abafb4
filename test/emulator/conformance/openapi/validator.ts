import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { convertSchema, DEFS_ID } from "./dialect.ts";
import { findOperation, type SchemaNode, type StripeDocument, templateOf } from "./document.ts";

/** One answer to check: the request's method and path, the status and the parsed body. */
export interface ResponseToCheck {
  method: string;
  /** A concrete path (/v1/customers/cus_1) or a template (/v1/customers/{customer}). */
  path: string;
  status: number;
  body: unknown;
}

/** What a check found: which schema the answer was held to, and what did not fit it. */
export interface Verdict {
  /** `METHOD template status-key`, or the generic error schema an undocumented path fell to. */
  against: string;
  /** The documented path template, null for a path the document does not have. */
  template: string | null;
  /** One line per mismatch; empty when the answer conforms. */
  problems: string[];
}

// RFC 3339 date-time, what v2 objects carry (created, expires_at).
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The formats Stripe's document uses. In strict mode ajv refuses a format it does not know
 * rather than skip it, so each is defined here, as the document means it.
 */
function addStripeFormats(ajv: Ajv2020): void {
  ajv.addFormat("unix-time", {
    type: "number",
    validate: (n: number) => Number.isSafeInteger(n) && n >= 0,
  });
  ajv.addFormat("date-time", {
    type: "string",
    validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)),
  });
  // A decimal in a string ("2000", "0.5"): how Stripe writes unit_amount_decimal.
  ajv.addFormat("decimal", { type: "string", validate: /^-?\d+(\.\d+)?$/ });
  // ISO 4217, lower case, as Stripe writes currencies.
  ajv.addFormat("currency", { type: "string", validate: /^[a-z]{3}$/ });
}

function describe(error: ErrorObject): string {
  const where = error.instancePath === "" ? "(body)" : error.instancePath;
  const got = JSON.stringify(error.data) ?? "undefined";
  return `${where} ${error.message ?? error.keyword}, got ${got.slice(0, 120)}`;
}

/**
 * Checks answers against Stripe's OpenAPI document: the schema of the documented status (or
 * `default`, the error envelope, for an error status). A path the document lacks may only
 * answer with an error, held to the API's generic error schema (v1 `error`, v2 `v2.error`).
 */
export class ResponseValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly doc: StripeDocument) {
    // allErrors: report every mismatch of an answer at once, not only the first.
    // verbose: errors carry the offending value, so a report names what was sent.
    this.ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
    addStripeFormats(this.ajv);
    const defs = Object.fromEntries(
      Object.entries(doc.schemas).map(([name, schema]) => [name, convertSchema(schema)]),
    );
    this.ajv.addSchema({ $id: DEFS_ID, $defs: defs });
  }

  /** The documented template of a concrete path, or null. */
  templateOf(path: string): string | null {
    return templateOf(this.doc, path);
  }

  /** Check one answer; the path may be concrete or a template. */
  check(response: ResponseToCheck): Verdict {
    const { method, status, body } = response;
    const template = templateOf(this.doc, response.path);
    const operation = template === null ? null : findOperation(this.doc, method, template);
    if (operation === null) {
      const where = `${method} ${response.path}`;
      const genericError = response.path.startsWith("/v2/") ? "v2.error" : "error";
      if (status < 400) {
        return {
          against: genericError,
          template,
          problems: [`${where} answered ${status}, but the document has no such operation`],
        };
      }
      const ref = { $ref: `#/components/schemas/${genericError}` };
      return this.validate(genericError, ref, body, template);
    }
    const key = String(status);
    const schema =
      operation.responses[key] ?? (status >= 400 ? operation.responses.default : undefined);
    const against = `${operation.method} ${operation.template} ${key in operation.responses ? key : "default"}`;
    if (schema === undefined) {
      const documented = Object.keys(operation.responses).join(", ");
      return {
        against,
        template,
        problems: [`status ${status} is not documented (${documented})`],
      };
    }
    return this.validate(against, schema, body, template);
  }

  /** Validate `body` against a schema of the document, compiled once per `against`. */
  private validate(
    against: string,
    schema: SchemaNode,
    body: unknown,
    template: string | null,
  ): Verdict {
    let validate = this.compiled.get(against);
    if (validate === undefined) {
      validate = this.ajv.compile(convertSchema(schema));
      this.compiled.set(against, validate);
    }
    const problems = validate(body) ? [] : (validate.errors ?? []).map(describe);
    return { against, template, problems };
  }
}
