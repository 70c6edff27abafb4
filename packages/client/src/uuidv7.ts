/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Sortable by creation
 * time, unique without coordination, and within Meterline's id rule (A-Z a-z 0-9 . _ : -).
 * Web Crypto's getRandomValues: on Node 20+ and every edge runtime, no import needed.
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  // 48-bit big-endian milliseconds; division, not shifts: JavaScript's shifts are 32-bit.
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70; // version 7
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // variant 10
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
