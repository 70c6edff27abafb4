import { ErrorCode, ItemErrorCode } from "../lib/error-codes.ts";
import type { ItemError } from "../lib/errors.ts";
import { listError } from "./item-error-list.ts";

/** A list of one item error (a body or a query string is item 0). */
export function oneError(
  field: string,
  message: string,
  code: ItemErrorCode = ItemErrorCode.invalid_value,
): ItemError[] {
  return [{ index: 0, field, code, message }];
}

/**
 * An operator action names its events by `ids` or selects them by `filter`, never both and never
 * neither: throws 400 invalid_body saying which, `selects` saying what a filter selects.
 */
export function requireIdsOrFilter(hasIds: boolean, hasFilter: boolean, selects: string): void {
  if (hasIds !== hasFilter) return;
  throw listError(
    ErrorCode.invalid_body,
    oneError(
      "ids",
      hasIds
        ? "ids and filter cannot be combined: name the events, or select them by filter"
        : `ids or filter is required: "ids" names the events, "filter" selects ${selects}`,
      ItemErrorCode.required,
    ),
  );
}
