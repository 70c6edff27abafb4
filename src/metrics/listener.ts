import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

/** A host:port to listen on, as METERLINE_METRICS_LISTEN gives it. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** A running metrics listener. */
export interface MetricsListener {
  /** Where it listens (the port the system chose, when 0 was asked). */
  url: string;
  close(): Promise<void>;
}

/**
 * A listener of its own that answers GET /metrics, with no key: for a worker process (which
 * has no API), or to keep scrapes off the API's port. Bind it to an address only the scraper
 * reaches. Anything else is 404; a failed scrape is 500 with the reason in plain text.
 */
export async function startMetricsListener(
  registry: Registry,
  at: ListenAddress,
): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" || path !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: GET /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: unknown) =>
        response
          .writeHead(500, { "content-type": "text/plain" })
          .end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : at.port;
  const host = at.host.includes(":") ? `[${at.host}]` : at.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
