// A time limit on a promise: it settles as the work does, or rejects after `ms` (the work itself
// goes on; its outcome is ignored). For reads that may hang while a NATS node is down.

export function within<T>(ms: number, work: Promise<T>, what = 'the request'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
