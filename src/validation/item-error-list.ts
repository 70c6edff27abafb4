import { ApiError, type ApiErrorDetails, type ItemError } from "../lib/errors.ts";

/**
 * Most item errors an error answer lists. A producer fixes a batch by its pattern, not by reading
 * 6,000 lines; and an answer many times the request's size costs both sides more than the mistake.
 */
export const MAX_LISTED_ERRORS = 100;

/** How many item messages a summary `message` quotes before "and N more". */
const QUOTED = 3;

/**
 * Item errors as they are found: listed up to a cap, only counted beyond it. Past the cap no
 * error object or message string is built, so a batch with a typo in every item costs a count.
 */
export class ItemErrorList {
  readonly listed: ItemError[] = [];
  #total = 0;

  constructor(readonly cap: number = MAX_LISTED_ERRORS) {}

  /** Every error counted, listed or not. */
  get total(): number {
    return this.#total;
  }

  /** True once the list holds `cap` errors: further ones are only counted. */
  get full(): boolean {
    return this.listed.length >= this.cap;
  }

  /** Counts one error, and builds it only while the list has room. */
  add(build: () => ItemError): void {
    this.#total++;
    if (!this.full) this.listed.push(build());
  }

  /** Counts `n` errors that will not be listed (call only when `full`). */
  count(n: number): void {
    this.#total += n;
  }

  /** See summarize. */
  summary(): string {
    return summarize(this.listed, this.#total);
  }

  /** See listedDetails. */
  details(): ListedDetails {
    return listedDetails(this.listed, this.#total);
  }
}

/** What an ApiError carries of an error list. */
type ListedDetails = Pick<ApiErrorDetails, "errors" | "truncated" | "totalErrors">;

/** The first few messages, then "and N more": a summary whose size does not grow with the list. */
export function summarize(listed: readonly ItemError[], total: number): string {
  const shown = listed.slice(0, QUOTED).map((e) => e.message);
  const more = total - shown.length;
  return more > 0 ? `${shown.join("; ")}; and ${more} more` : shown.join("; ");
}

/** `errors` for the answer, with `truncated` and `totalErrors` when some were left out. */
export function listedDetails(listed: readonly ItemError[], total: number): ListedDetails {
  return {
    errors: [...listed],
    ...(total > listed.length ? { truncated: true, totalErrors: total } : {}),
  };
}

/**
 * 400 with `code`: the summary as message, the first field as `field`, the listed errors, and
 * `truncated` with the total when `total` (every error found) is more than were listed.
 */
export function listError(
  code: string,
  listed: readonly ItemError[],
  total = listed.length,
): ApiError {
  const first = listed[0];
  return new ApiError(400, code, summarize(listed, total), {
    ...(first ? { field: first.field } : {}),
    ...listedDetails(listed, total),
  });
}
