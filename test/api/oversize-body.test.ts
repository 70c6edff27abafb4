import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DRAIN_LIMIT } from "../../src/http/oversize-body.ts";
import { backends } from "../support/db.ts";
import { startApi, type TestApi } from "./harness.ts";

/** One HTTP/1.1 answer read off a socket: status line, headers by lower-case name, body. */
interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads one complete answer (Content-Length framed, as every answer of the API is). */
async function readAnswer(socket: Socket, buffered: { data: Buffer }): Promise<RawAnswer> {
  for (;;) {
    const end = buffered.data.indexOf("\r\n\r\n");
    if (end >= 0) {
      const [statusLine = "", ...lines] = buffered.data.subarray(0, end).toString().split("\r\n");
      const headers = Object.fromEntries(
        lines.map((l) => [
          l.slice(0, l.indexOf(":")).toLowerCase(),
          l.slice(l.indexOf(":") + 1).trim(),
        ]),
      );
      const length = Number(headers["content-length"] ?? 0);
      if (buffered.data.length >= end + 4 + length) {
        const body = buffered.data.subarray(end + 4, end + 4 + length).toString();
        buffered.data = buffered.data.subarray(end + 4 + length);
        return { status: Number(statusLine.split(" ")[1]), headers, body };
      }
    }
    const [chunk] = (await once(socket, "data")) as [Buffer];
    buffered.data = Buffer.concat([buffered.data, chunk]);
  }
}

/** A POST /v1/events request's head, framed by `framing` (a content-length or chunked). */
function head(key: string, framing: string): string {
  return (
    "POST /v1/events HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n" +
    `authorization: Bearer ${key}\r\n${framing}\r\n\r\n`
  );
}

function request(key: string, body: string, declared = Buffer.byteLength(body)): string {
  return head(key, `content-length: ${declared}`) + body;
}

/** One chunk of a chunked body. */
function chunk(text: string): string {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
}

/** Runs `talk` on a new connection to `port` with its read buffer; the socket is closed after. */
async function onSocket(
  port: number,
  talk: (socket: Socket, buffered: { data: Buffer }) => Promise<void>,
): Promise<void> {
  const socket = connect(port, "127.0.0.1");
  try {
    await talk(socket, { data: Buffer.alloc(0) });
  } finally {
    socket.destroy();
  }
}

// Over a real socket: inject() has no connection to close, so it cannot show the difference.
describe.each(backends.slice(-1))("a body over the limit, over TCP (%s)", (kind) => {
  let api: TestApi;
  let port = 0;
  beforeAll(async () => {
    api = await startApi(kind);
    await api.app.listen({ port: 0, host: "127.0.0.1" });
    port = (api.app.server.address() as { port: number }).port;
  });
  afterAll(() => api?.close());

  it("is answered 413 after the upload, on a connection that stays open", () =>
    onSocket(port, async (socket, buffered) => {
      const huge = JSON.stringify({ events: [{ id: "huge", customer: "c".repeat(1_100_000) }] });
      socket.write(request(api.ingestKey, huge));
      const refused = await readAnswer(socket, buffered);
      expect(refused.status).toBe(413);
      expect(JSON.parse(refused.body).error.code).toBe("body_too_large");
      // Fastify's own answer says `connection: close` and shuts the socket while the client may
      // still be writing: the client then sees EPIPE, not the 413.
      expect(refused.headers.connection).not.toBe("close");

      // The same connection carries the next request.
      socket.write(request(api.ingestKey, JSON.stringify({ events: [] })));
      const next = await readAnswer(socket, buffered);
      expect(next.status).toBe(400);
      expect(JSON.parse(next.body).error.field).toBe("events");
    }));

  it("sent chunked, is read to its end before the 413; a chunked body within the limit is parsed", async () => {
    const chunked = head(api.ingestKey, "transfer-encoding: chunked");
    await onSocket(port, async (socket, buffered) => {
      let early = false;
      socket.on("data", () => {
        early = true;
      });
      const piece = "c".repeat(100_000);
      socket.write(chunked + chunk(`{"events":[{"id":"huge","customer":"`));
      for (let i = 0; i < 11; i++) socket.write(chunk(piece));
      // Over the limit but not finished: fastify alone would have answered (and closed) by now.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(early).toBe(false);
      socket.removeAllListeners("data");
      socket.write(`${chunk('"}]}')}0\r\n\r\n`);
      const refused = await readAnswer(socket, buffered);
      expect(refused.status).toBe(413);
      expect(JSON.parse(refused.body).error.code).toBe("body_too_large");
    });

    await onSocket(port, async (socket, buffered) => {
      socket.write(`${chunked}${chunk(JSON.stringify({ events: [] }))}0\r\n\r\n`);
      const parsed = await readAnswer(socket, buffered);
      expect(parsed.status).toBe(400);
      expect(JSON.parse(parsed.body).error.field).toBe("events");
    });
  });

  it("is refused at once, and the connection closed, when it declares more than the drain limit", () =>
    onSocket(port, async (socket, buffered) => {
      // Only the headers are sent: the answer must not wait for 16 MiB that never come.
      socket.write(request(api.ingestKey, "", DRAIN_LIMIT + 1));
      const refused = await readAnswer(socket, buffered);
      expect(refused.status).toBe(413);
      expect(JSON.parse(refused.body).error.code).toBe("body_too_large");
      expect(refused.headers.connection).toBe("close");
    }));

  it("refused before its body is read (a wrong key), one declaring more than the drain limit closes its connection; a small one keeps it", () =>
    onSocket(port, async (socket, buffered) => {
      // Node would otherwise read an unread body to its end, however long the caller sends.
      socket.write(request("sk_wrong", "", DRAIN_LIMIT + 1));
      const refused = await readAnswer(socket, buffered);
      expect(refused.status).toBe(401);
      expect(refused.headers.connection).toBe("close");
    }).then(() =>
      onSocket(port, async (socket, buffered) => {
        socket.write(request("sk_wrong", JSON.stringify({ events: [] })));
        const refused = await readAnswer(socket, buffered);
        expect(refused.status).toBe(401);
        expect(refused.headers.connection).not.toBe("close");
        socket.write(request(api.ingestKey, JSON.stringify({ events: [] })));
        expect((await readAnswer(socket, buffered)).status).toBe(400);
      }),
    ));

  it("refused before its body is read (a wrong key), a chunked body closes its connection: nothing bounds what is left of it", () =>
    onSocket(port, async (socket, buffered) => {
      // One chunk, and no last chunk: a caller that could go on sending for as long as it likes.
      socket.write(head("sk_wrong", "transfer-encoding: chunked") + chunk('{"events":['));
      const refused = await readAnswer(socket, buffered);
      expect(refused.status).toBe(401);
      expect(refused.headers.connection).toBe("close");
      // And the server does close it, instead of reading on.
      await once(socket, "end");
    }).then(() =>
      onSocket(port, async (socket, buffered) => {
        // Read to its end (an answer about its content), a chunked body keeps its connection.
        socket.write(
          head(api.ingestKey, "transfer-encoding: chunked") + chunk('{"events":[]}') + "0\r\n\r\n",
        );
        const refused = await readAnswer(socket, buffered);
        expect(refused.status).toBe(400);
        expect(refused.headers.connection).not.toBe("close");
        socket.write(request(api.ingestKey, JSON.stringify({ events: [] })));
        expect((await readAnswer(socket, buffered)).status).toBe(400);
      }),
    ));
});
