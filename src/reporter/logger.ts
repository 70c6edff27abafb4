/** The logging the reporter needs: pino's `logger.info({…}, msg)` style; a pino Logger fits. */
export interface ReporterLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
