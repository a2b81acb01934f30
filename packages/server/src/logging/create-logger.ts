import { pino, type Logger, type LoggerOptions } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

/**
 * The root logger. JSON lines by default (production, log collectors); with `pretty`
 * (development mode), one readable line per record on stdout: time, level, message and the
 * fields that matter, colored on a terminal. Pretty printing runs in this thread, synchronously,
 * so its lines keep their order with what the process writes to stdout itself.
 */
export function createLogger(options: { level: string; pretty: boolean; name?: string }): Logger {
  const base: LoggerOptions = {
    name: options.name ?? 'tandem',
    level: options.level,
    redact: {
      paths: [
        'token',
        '*.token',
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'auth.token',
      ],
      censor: '[redacted]',
    },
  };
  if (!options.pretty) return pino(base);
  return pino(
    base,
    pinoPretty({
      sync: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss',
      // Every record carries these; in a terminal they only push the message off the screen.
      ignore: 'pid,hostname,name,instanceId',
      // Colors on a terminal only (pino-pretty's default, which also honours NO_COLOR).
    }),
  );
}
