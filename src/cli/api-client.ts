/** A small client for Meterline's own HTTP API, used by the demo and operator commands. */
export class MeterlineClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  /** Sends a request; returns status and parsed JSON body. Never throws for an HTTP status. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.apiKey}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  /** Like request, but a status other than `expect` throws with the API's error message. */
  async must<T = unknown>(
    method: string,
    path: string,
    body: unknown,
    expect: number[],
  ): Promise<T> {
    const res = await this.request<T>(method, path, body);
    if (!expect.includes(res.status)) {
      throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
    return res.body;
  }
}
