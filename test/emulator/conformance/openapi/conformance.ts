import type { Exchange } from "../../../../src/emulator/index.ts";
import { type Deviation, forgive } from "./deviations.ts";
import { loadDocument, type StripeDocument } from "./document.ts";
import { ResponseValidator, type Verdict } from "./validator.ts";

/** An exchange and what Stripe's document says of it. */
export interface CheckedExchange {
  exchange: Exchange;
  verdict: Verdict;
  /** The deliberate departure forgiven in it, if any (see deviations.ts). */
  forgiven: Deviation | null;
}

/** Checks the emulator's answers against Stripe's OpenAPI document (the fixtures' copy). */
export class ConformanceChecker {
  readonly doc: StripeDocument;
  private readonly validator: ResponseValidator;

  constructor(doc: StripeDocument = loadDocument()) {
    this.doc = doc;
    this.validator = new ResponseValidator(doc);
  }

  /** Check one exchange: its body must be JSON and fit the documented response. */
  check(exchange: Exchange): CheckedExchange {
    const { method, path, status } = exchange;
    let parsed: unknown;
    const template = this.validator.templateOf(path);
    try {
      parsed = JSON.parse(exchange.body);
    } catch {
      const problems = [`body is not JSON: ${JSON.stringify(exchange.body.slice(0, 80))}`];
      return { exchange, verdict: { against: "JSON", template, problems }, forgiven: null };
    }
    const { body, forgiven } = forgive(method, template, parsed);
    return { exchange, verdict: this.validator.check({ method, path, status, body }), forgiven };
  }
}

/** One line per problem, naming the exchange: what a failing assertion shows. */
export function describeProblems(checked: CheckedExchange): string[] {
  const { exchange, verdict } = checked;
  const head = `${exchange.method} ${exchange.path} → ${exchange.status} (against ${verdict.against})`;
  return verdict.problems.map((problem) => `${head}: ${problem}`);
}
