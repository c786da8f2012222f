// pino JSON logs on stderr, every line bound to the process role and id. On a terminal the same lines
// are pretty-printed (colours, local time) for a person; piped or in a file they stay JSON for tools.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Fields that may hold a secret, wherever they appear in a log line (one level down too): their
 *  values are replaced before the line is written. URLs are logged through redactUrl (nats/connect.ts). */
const REDACT = ['password', 'pass', 'token', 'secret', 'seed', 'authorization', 'NATS_PASSWORD', 'NATS_TOKEN', 'METRICS_TOKEN'].flatMap((k) => [k, `*.${k}`]);

export function createLogger(role: string, level: string, bindings: Record<string, unknown> = {}, tty = process.stderr.isTTY === true): Logger {
  const options = { level, base: { role, pid: process.pid, ...bindings }, redact: { paths: REDACT, censor: '[redacted]' } };
  if (tty) return pino(options, pretty({ destination: 2, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname', singleLine: true }));
  return pino(options, pino.destination(2));
}

/** The same JSON lines into a file (created with its folder): for a command whose terminal shows
 *  progress lines instead. */
export function createFileLogger(role: string, level: string, file: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { role, pid: process.pid, ...bindings }, redact: { paths: REDACT, censor: '[redacted]' } }, pino.destination({ dest: file, mkdir: true, sync: true }));
}
