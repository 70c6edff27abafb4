import { z } from "zod";

// A lone surrogate is a code point of category Cs only when the string is read by code point (u).
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/**
 * Why Postgres cannot store `text` as a text value, as the sentence after a field's name; null
 * when it can. Postgres text cannot hold NUL (U+0000) at all; an unpaired UTF-16 surrogate has no
 * UTF-8 form, so a driver would silently replace it, and the stored value would differ from the one
 * sent.
 */
export function textFault(text: string): string | null {
  if (text.includes("\u0000")) {
    return "must not contain NUL (\\u0000): Postgres text cannot hold it";
  }
  if (UNPAIRED_SURROGATE.test(text)) {
    return "must not contain an unpaired surrogate (\\ud800 to \\udfff): it is not UTF-8 text";
  }
  return null;
}

/** A string that Postgres text can store exactly (see textFault); chain min/max as usual. */
export function pgText(): z.ZodString {
  return z.string().refine((text) => textFault(text) === null);
}
