import type { Config } from "../config.ts";

/**
 * A start that failed for a reason the operator can fix (a port taken, a database out of reach):
 * printed without a stack, naming the variable and what to do, exit code 2.
 */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** Network errors that mean the database server was not reached at all. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNRESET",
]);

/** What a failed start means for the operator, or null when it is not a known cause. */
export function explainStartupFailure(err: unknown, config: Config): StartupError | null {
  if (!(err instanceof Error)) return null;
  const { code } = err as { code?: unknown };
  if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
    return listenFailure(err, code, config);
  }
  if (config.databaseUrl === null) return null;
  const where = `DATABASE_URL (${redacted(config.databaseUrl)})`;
  if (typeof code === "string" && UNREACHABLE.has(code)) {
    return new StartupError(
      `cannot reach the database at ${where}: ${code}. Check that Postgres is running and that DATABASE_URL names its host and port; unset DATABASE_URL to use the embedded database.`,
    );
  }
  // Connection-time refusals by the server: class 28 (authorization), 3D000 (no such database).
  if (typeof code === "string" && (code.startsWith("28") || code === "3D000")) {
    return new StartupError(
      `the database at ${where} refused the connection: ${err.message}. Fix the user, password or database name in DATABASE_URL.`,
    );
  }
  if (/SASL|password must be a string/.test(err.message)) {
    return new StartupError(
      `the database at ${where} asks for a password: put it in DATABASE_URL (postgres://user:password@host/db).`,
    );
  }
  return null;
}

/** Which of the process's listeners failed: the API, the bundled emulator or the metrics one. */
function listenFailure(err: Error, code: string, config: Config): StartupError {
  const port = portOf(err);
  const variable =
    port === config.stripe.emulatorPort
      ? "METERLINE_EMULATOR_PORT"
      : config.metrics.listen && port === config.metrics.listen.port
        ? "METERLINE_METRICS_LISTEN"
        : "PORT";
  const shown = port ?? "its port";
  if (code === "EADDRINUSE") {
    return new StartupError(
      `port ${shown} is already in use (${variable}): stop the process holding it, or set ${variable} to a free port (0 picks one).`,
    );
  }
  if (code === "EACCES") {
    return new StartupError(
      `not allowed to listen on port ${shown} (${variable}): ports below 1024 need privileges; set ${variable} to 1024 or above.`,
    );
  }
  const hostVariable = variable === "PORT" ? "HOST" : variable;
  return new StartupError(
    `cannot listen on ${config.host}:${shown} (${hostVariable}): the address is not one of this machine's; set ${hostVariable} to one that is (127.0.0.1, 0.0.0.0).`,
  );
}

/** The port of a listen error: its field, or the end of its message (an emulator thread's copy). */
function portOf(err: Error): number | null {
  const field = (err as { port?: unknown }).port;
  if (typeof field === "number") return field;
  const match = /:(\d+)$/.exec(err.message);
  return match ? Number(match[1]) : null;
}

/** A database URL without its password, safe to print. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "unparseable URL";
  }
}

/** Runs a command's start, turning a known failure into a StartupError. */
export async function explainingFailures<T>(config: Config, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    throw explainStartupFailure(err, config) ?? err;
  }
}
