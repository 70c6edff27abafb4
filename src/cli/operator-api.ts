import { loadConfig } from "../config.ts";
import type { ErrorBody } from "../http/error-handler.ts";
import { coerceError } from "../lib/errors.ts";
import { MeterlineClient } from "./api-client.ts";
import { readRuntimeInfo } from "./runtime-info.ts";
import { UsageError } from "./usage-error.ts";

// The operator commands (stats, trace, dlq) share the helpers below: they all talk to a running
// Meterline over HTTP, because the embedded database can only be opened by the process that
// runs it.

/** The API client of the operator commands. */
export type OperatorApi = MeterlineClient;

/** A failure the command explains in one line (exit code 1): the API refused, or was not there. */
export class OperatorError extends Error {
  override readonly name = "OperatorError";
}

/**
 * The running Meterline to talk to: METERLINE_API_URL and METERLINE_API_KEY when set, else what a
 * development `meterline start` saved in METERLINE_DATA_DIR/runtime.json. A usage error (exit 2)
 * says how to provide them when neither has them.
 */
export async function operatorApi(env: NodeJS.ProcessEnv = process.env): Promise<OperatorApi> {
  let url = env.METERLINE_API_URL || undefined;
  let key = env.METERLINE_API_KEY || undefined;
  let where = "METERLINE_API_URL / METERLINE_API_KEY";
  if (url === undefined || key === undefined) {
    const dataDir = loadConfig(env).dataDir;
    const info = await readRuntimeInfo(dataDir);
    url ??= info?.api_url;
    key ??= info?.api_key;
    where = `${where} or ${dataDir}/runtime.json`;
    if (url === undefined || key === undefined) {
      throw new UsageError(
        `no Meterline API to talk to: set METERLINE_API_URL and METERLINE_API_KEY (an admin key), or run "meterline start" (it saves both in ${dataDir}/runtime.json)`,
      );
    }
  }
  if (!/^https?:\/\/[^/]/.test(url)) {
    throw new UsageError(`METERLINE_API_URL must be an http:// or https:// URL (got "${url}")`);
  }
  const api = new MeterlineClient(url.replace(/\/+$/, ""), key);
  sources.set(api, where);
  return api;
}

const sources = new WeakMap<OperatorApi, string>();

/** Calls the API; any refusal or network failure becomes an OperatorError with the API's words. */
export async function callApi<T>(
  api: OperatorApi,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  let res: { status: number; body: unknown };
  try {
    res = await api.request(method, path, body);
  } catch (err) {
    const e = coerceError(err);
    const cause = e.cause === undefined ? "" : ` (${coerceError(e.cause).message})`;
    throw new OperatorError(
      `cannot reach Meterline at ${api.baseUrl}: ${e.message}${cause}. Is it running? (URL from ${sources.get(api) ?? "the environment"})`,
    );
  }
  if (res.status >= 400) {
    const error = (res.body as Partial<ErrorBody> | null)?.error;
    const ids = error?.ids && error.ids.length > 0 ? `\nids: ${error.ids.join(", ")}` : "";
    const hint = res.status === 401 ? ` (key from ${sources.get(api) ?? "the environment"})` : "";
    throw new OperatorError(
      `${error?.message ?? `HTTP ${res.status}`} [${res.status} ${error?.code ?? "error"}]${hint}${ids}`,
    );
  }
  return res.body as T;
}

/**
 * Runs an operator command's work: an OperatorError is printed in one line with exit code 1, and
 * so is a `false` result (something asked for was not done); anything else is main's to report.
 */
export async function operatorCommand(name: string, work: () => Promise<unknown>): Promise<void> {
  try {
    if ((await work()) === false) process.exitCode = 1;
  } catch (err) {
    if (!(err instanceof OperatorError)) throw err;
    process.stderr.write(`meterline ${name}: ${err.message}\n`);
    process.exitCode = 1;
  }
}

/** "45s", "12m", "3h", "2d": how long, to the largest whole unit. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3_600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
