import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** The root logger. JSON lines by default; pretty output only when asked (development). */
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
  if (options.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino(base);
}
