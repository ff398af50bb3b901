/** The seed's debug logging: `[WebSocket] Connected`, `[WebSocket] Joined tenant: …`. */

export type Logger = (message: string, ...details: unknown[]) => void;

/** A logger that prints with the seed's prefix when `debug` is on, and does nothing otherwise. */
export function createLogger(debug: boolean, sink: Pick<Console, "log"> = console): Logger {
  if (!debug) return () => undefined;
  return (message, ...details) => sink.log(`[WebSocket] ${message}`, ...details);
}
