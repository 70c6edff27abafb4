import type { AddressInfo } from "node:net";
import net from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientErrorAnswer } from "../../src/http/client-errors.ts";
import { ErrorCode } from "../../src/lib/error-codes.ts";
import { backends } from "../support/db.ts";
import { startApi, type TestApi } from "./harness.ts";

/** Asserts a body is our error shape, and only that: `{"error": {"code", "message", …}}`. */
function expectOurShape(body: string, code: string): void {
  const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
  expect(Object.keys(parsed)).toEqual(["error"]);
  expect(parsed.error?.code).toBe(code);
  expect(Object.values(ErrorCode)).toContain(code);
  expect(typeof parsed.error?.message).toBe("string");
}

/** Writes raw bytes to the server and reads everything it answers until it closes. */
function rawHttp(app: FastifyInstance, bytes: string): Promise<{ status: number; body: string }> {
  const { port } = app.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      answer += chunk;
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", body = ""] = answer.split("\r\n\r\n", 2);
      resolve({ status: Number(head.split(" ")[1]), body });
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error("no answer within 5 s")));
  });
}

describe.each(backends)("malformed HTTP is answered in our error shape on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await api.app.listen({ host: "127.0.0.1", port: 0 });
  });
  afterAll(() => api?.close());

  describe("what the router refuses before any route runs", () => {
    it.each([
      ["a truncated escape in a route's path", "/v1/events/%E0%A4%A"],
      ["an escape that is not hex", "/v1/customers/%zz"],
      ["an escape that is not UTF-8, on no route at all", "/nothing/%FF"],
    ])("%s → 400 invalid_url, with a request id", async (_, url) => {
      const res = await api.call({ method: "GET", url });
      expect(res.statusCode).toBe(400);
      expectOurShape(res.body, "invalid_url");
      expect(res.body).not.toContain("FST_ERR");
      expect(res.headers["x-request-id"]).toEqual(expect.any(String));
    });

    it("a path segment longer than the router reads → 414 url_too_long, not echoed back", async () => {
      const res = await api.call({ method: "GET", url: `/v1/customers/${"a".repeat(5_000)}` });
      expect(res.statusCode).toBe(414);
      expectOurShape(res.body, "url_too_long");
      expect(res.body.length).toBeLessThan(500);
    });
  });

  describe("what Node's HTTP parser refuses (raw bytes on a socket)", () => {
    it.each([
      [
        "a control character in a header value",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\u0001b\r\n\r\n",
      ],
      ["a space in a header name", "GET /healthz HTTP/1.1\r\nHost: x\r\nX Note: b\r\n\r\n"],
      ["a request line that is not HTTP", "HELLO THERE\r\n\r\n"],
      [
        "both Content-Length and Transfer-Encoding",
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
      ],
      ["a raw NUL in the path", "GET /v1/events/a\u0000b HTTP/1.1\r\nHost: x\r\n\r\n"],
    ])("%s → 400 malformed_request", async (_, bytes) => {
      const res = await rawHttp(api.app, bytes);
      expect(res.status).toBe(400);
      expectOurShape(res.body, "malformed_request");
    });

    it("a URL too long for the header limit → 431 headers_too_large", async () => {
      const bytes = `GET /v1/dead-letters?customer=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const res = await rawHttp(api.app, bytes);
      expect(res.status).toBe(431);
      expectOurShape(res.body, "headers_too_large");
    });
  });

  describe("body and content-type mistakes (already ours; kept so)", () => {
    const post = (headers: Record<string, string>, payload: string) =>
      api.call({ method: "POST", url: "/v1/events", headers, payload });

    const json = { "content-type": "application/json" };
    it.each<[string, number, string, Record<string, string>, string]>([
      ["text/plain", 415, "unsupported_media_type", { "content-type": "text/plain" }, "x"],
      [
        "an unparsable Content-Type",
        415,
        "unsupported_media_type",
        { "content-type": "///" },
        "{}",
      ],
      ["a body without Content-Type", 415, "unsupported_media_type", { "content-type": "" }, "{}"],
      ["JSON that does not parse", 400, "invalid_json", json, "{"],
      ["an empty JSON body", 400, "invalid_json", json, ""],
    ])("%s → %i %s", async (_, status, code, headers, payload) => {
      const res = await post(headers, payload);
      expect(res.statusCode, res.body).toBe(status);
      expectOurShape(res.body, code);
    });

    it("a body on a GET is ignored, not an error", async () => {
      const res = await api.call({
        method: "GET",
        url: "/v1/meters",
        headers: { "content-type": "application/json" },
        payload: "{",
      });
      expect(res.statusCode).toBe(200);
    });
  });
});

describe("clientErrorAnswer (pure)", () => {
  const parserError = (code: string) => Object.assign(new Error("parser says"), { code });

  it.each([
    ["ERR_HTTP_REQUEST_TIMEOUT", 408, "request_timeout"],
    ["HPE_HEADER_OVERFLOW", 431, "headers_too_large"],
    ["HPE_INVALID_METHOD", 400, "malformed_request"],
    ["SOMETHING_NEW", 400, "malformed_request"],
  ])("%s → %i %s", (code, status, ours) => {
    expect(clientErrorAnswer(parserError(code))).toMatchObject({ status, code: ours });
  });
});
