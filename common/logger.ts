// pino JSON logs on stderr, every line bound to the process role and id. On a terminal the same lines
// are pretty-printed (colours, local time) for a person; piped or in a file they stay JSON for tools.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(role: string, level: string, bindings: Record<string, unknown> = {}, tty = process.stderr.isTTY === true): Logger {
  const options = { level, base: { role, pid: process.pid, ...bindings } };
  if (tty) return pino(options, pretty({ destination: 2, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname', singleLine: true }));
  return pino(options, pino.destination(2));
}
