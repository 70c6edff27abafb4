/** Largest request body the API reads: a batch of 1,000 events fits with room to spare. */
export const BODY_LIMIT = 1024 * 1024;

/** BODY_LIMIT as people read it, for error messages. */
export const BODY_LIMIT_TEXT = "1 MiB";

/** Longest path segment the router reads: customer keys may be 255 characters, percent-encoded to more. */
export const MAX_PARAM_LENGTH = 1024;
