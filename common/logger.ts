// pino JSON logs on stderr, every line bound to the process role and id.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(role: string, level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { role, pid: process.pid, ...bindings } }, pino.destination(2));
}
