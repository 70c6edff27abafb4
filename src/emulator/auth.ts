import { invalidApiKey, missingApiKey } from "./errors.ts";

/** The secret keys the emulator accepts, and which of them are revoked. */
export class KeyRing {
  private readonly keys: Set<string>;
  private readonly revoked = new Set<string>();

  constructor(keys: readonly string[]) {
    this.keys = new Set(keys);
  }

  /** Make `key` answer 401 until restored (a revoked or rolled key, from the client's side). */
  revoke(key: string): void {
    this.revoked.add(key);
  }

  /** Undo `revoke`. */
  restore(key: string): void {
    this.revoked.delete(key);
  }

  /** Whether a request with `key` is let in. */
  accepts(key: string): boolean {
    return this.keys.has(key) && !this.revoked.has(key);
  }
}

/**
 * The API key in an Authorization header. Stripe takes `Bearer <key>` (what stripe-node sends)
 * and HTTP Basic with the key as user name and an empty password (what `curl -u sk_…:` sends).
 */
export function readApiKey(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const space = authorization.indexOf(" ");
  if (space < 0) return null;
  const scheme = authorization.slice(0, space).toLowerCase();
  const credentials = authorization.slice(space + 1).trim();
  if (scheme === "bearer") return credentials || null;
  if (scheme === "basic") {
    const decoded = Buffer.from(credentials, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    return user || null;
  }
  return null;
}

/**
 * Mask a key the way Stripe does in its 401 message: keep the `sk_test_` style prefix and the
 * last four characters, star the rest (`sk_test_************abcd`).
 */
export function maskKey(key: string): string {
  const prefix = /^[a-z]{2,4}_(test|live)_/.exec(key)?.[0] ?? "";
  const rest = key.slice(prefix.length);
  const visible = rest.slice(-4);
  return `${prefix}${"*".repeat(Math.max(rest.length - visible.length, 0))}${visible}`;
}

/** Throw Stripe's 401 unless the header carries an accepted key; returns the key. */
export function authenticate(keys: KeyRing, authorization: string | undefined): string {
  const key = readApiKey(authorization);
  if (key === null) throw missingApiKey();
  if (!keys.accepts(key)) throw invalidApiKey(maskKey(key));
  return key;
}

/** Whether the request's key is a live-mode key: objects it creates carry `livemode: true`. */
export function isLiveRequest(authorization: string | undefined): boolean {
  return readApiKey(authorization)?.includes("_live_") ?? false;
}
