// One pino logger factory for every XTrinode process: structured JSON, one event per line.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(component: string, level = process.env.XTRINODE_LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: { component },
    // Secret values must never reach logs; redact the obvious carriers defensively.
    redact: {
      paths: ["*.password", "*.token", "*.authorization", "headers.authorization", "req.headers.authorization"],
      censor: "[redacted]",
    },
  });
}

/** A logger that drops everything, for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
