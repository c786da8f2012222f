// Where the processes of a multi-host local cluster run: which host each NATS node, coordinator and
// worker is on, through which command it is started there, and with which extra environment (a
// skewed clock). Pure: the hosts are made elsewhere (virtual-hosts.ts).
import type { VirtualHost } from './virtual-hosts.ts';

/** Where one process runs. */
export interface RunOn {
  /** The host's name (h1, h2, ...). */
  readonly host: string;
  /** The host's address: a NATS node listens on it; clients list their own host's node first. */
  readonly address: string;
  /** Command prefix that runs a program on the host (it must exec the program). */
  readonly command: readonly string[];
  /** Extra environment of the process (libfaketime's, for a clock off by some seconds). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Placement {
  /** One clustered NATS node per entry, in order (n1 on the first). */
  readonly natsNodes: readonly RunOn[];
  /** Host of coordinator `index` (1-based: c1 is 1). */
  coordinator(index: number): RunOn;
  /** Host of worker `index` (1-based: w1 is 1). */
  worker(index: number): RunOn;
}

/** libfaketime as Debian installs it: preloaded, it shifts every clock the process reads. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** The environment that runs a process with its clock `seconds` off (negative: behind). */
export function skewedClockEnv(seconds: number): Record<string, string> {
  // Relative offsets (`+30s`) shift the wall clock and the monotonic one alike; timers are unchanged.
  return { LD_PRELOAD: LIBFAKETIME, FAKETIME: `${seconds >= 0 ? '+' : ''}${seconds}s` };
}

export interface SpreadOptions {
  /** Coordinators go on the first this many hosts, one each, round robin (default 2). */
  coordinatorHosts?: number;
  /** Clock offsets, s, by process id (c2, w3): those processes run under libfaketime. */
  skewS?: Readonly<Record<string, number>>;
}

/**
 * One NATS node per host; coordinators round robin over the first `coordinatorHosts` hosts (c1 on h1,
 * c2 on h2); workers round robin over all hosts (w1 on h1, w2 on h2, w3 on h3, w4 on h1, ...).
 */
export function spreadOverHosts(hosts: readonly VirtualHost[], options: SpreadOptions = {}): Placement {
  const onHost = (h: VirtualHost, id?: string): RunOn => {
    const skew = id === undefined ? undefined : options.skewS?.[id];
    return { host: h.name, address: h.address, command: h.command, ...(skew === undefined ? {} : { env: skewedClockEnv(skew) }) };
  };
  const coordinatorHosts = Math.max(1, Math.min(hosts.length, options.coordinatorHosts ?? 2));
  return {
    natsNodes: hosts.map((h) => onHost(h)),
    coordinator: (index) => onHost(hosts[(index - 1) % coordinatorHosts]!, `c${index}`),
    worker: (index) => onHost(hosts[(index - 1) % hosts.length]!, `w${index}`),
  };
}
