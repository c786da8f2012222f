// Hosts for a multi-host cluster on one Linux machine: each host is a network namespace with one
// address on a private /24, all plugged into a bridge that lives in a namespace of its own (the
// "switch"), so host-to-host traffic never touches the machine's own network stack. The machine
// itself reaches the hosts through one more veth into the switch (the observer: the launcher, the
// chaos monitor, the CLI). Faults act on a host's link only: iptables rules and a tbf qdisc inside the
// host's namespace and on its switch port, so deleting the namespaces deletes every rule with them.
//
// Names carry the launcher's pid (`sf-<pid>-h1`, `sf-<pid>-sw`, link `sf-<pid>-o`): a leftover of a
// run that died is recognisable, and removeLeftovers() deletes those whose launcher is gone.
// Needs root (CAP_NET_ADMIN) and iproute2; faults need iptables and tc.
import { execFileSync } from 'node:child_process';
import { ShardflowError } from '../common/errors.ts';

/** One host of the cluster. */
export interface VirtualHost {
  /** h1, h2, ... */
  readonly name: string;
  /** Its network namespace. */
  readonly netns: string;
  /** Its address on the cluster's subnet; processes of the host listen and connect on it. */
  readonly address: string;
  /** The command prefix that runs a program on the host (`ip netns exec <netns>`); it execs, so the
   *  program keeps the pid the launcher spawned. */
  readonly command: readonly string[];
}

/** A slow, lossy link, as tc tbf and iptables' statistic match can make one (the kernel here has no
 *  netem): a narrow rate whose queue adds delay, and a share of packets dropped at random. */
export interface SlowLink {
  /** Rate of the link in each direction, kbit/s. */
  rateKbit: number;
  /** Most queueing delay tbf allows before it drops, ms: the added latency under load. */
  queueMs: number;
  /** Share of packets dropped in each direction, 0..1. */
  loss: number;
}

/** Prefix of every namespace and link made here. */
export const VIRTUAL_HOST_PREFIX = 'sf-';
/** Private addresses of the hosts: 10.203.<k>.0/24, k picked free per run. */
const SUBNET_BASE = '10.203';
const OBSERVER_OCTET = 254;
/** Name of a host's interface inside its namespace. */
const HOST_LINK = 'eth0';

function run(args: string[], input?: string): string {
  try {
    return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new ShardflowError('PROCESS_FAILED', `\`${args.join(' ')}\` failed: ${stderr || (err as Error).message}`, { cause: err });
  }
}

function tryRun(args: string[]): boolean {
  try {
    run(args);
    return true;
  } catch {
    return false;
  }
}

/** Why virtual hosts cannot be made here, or undefined when they can (root, ip netns, iptables, tc). */
export function virtualHostsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'virtual hosts need root (network namespaces, veth, iptables)';
  for (const tool of [['ip', '-V'], ['iptables', '--version'], ['tc', '-V']]) {
    if (!tryRun(tool)) return `virtual hosts need \`${tool[0]}\` (Debian: apt-get install -y iproute2 iptables)`;
  }
  const probe = `${VIRTUAL_HOST_PREFIX}${process.pid}-probe`;
  if (!tryRun(['ip', 'netns', 'add', probe])) return '`ip netns add` is refused here (no CAP_SYS_ADMIN / CAP_NET_ADMIN, or no network namespaces in this kernel)';
  tryRun(['ip', 'netns', 'del', probe]);
  return undefined;
}

/** Namespaces of this machine whose name this module made (any run). */
function ourNamespaces(): string[] {
  return run(['ip', 'netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(VIRTUAL_HOST_PREFIX) && /^sf-\d+-/.test(n));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills what still runs in a namespace (our own processes: nothing else enters it), then deletes it. */
function deleteNamespace(netns: string): void {
  const pids = tryPids(netns);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  tryRun(['ip', 'netns', 'del', netns]);
}

function tryPids(netns: string): number[] {
  try {
    return run(['ip', 'netns', 'pids', netns]).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Deletes the namespaces and links of runs whose launcher is no longer running; returns their names. */
export function removeLeftovers(): string[] {
  const removed: string[] = [];
  const owners = new Set<number>();
  for (const ns of ourNamespaces()) {
    const pid = Number(/^sf-(\d+)-/.exec(ns)![1]);
    if (alive(pid) && pid !== process.pid) continue;
    owners.add(pid);
    deleteNamespace(ns);
    removed.push(ns);
  }
  for (const pid of owners) if (tryRun(['ip', 'link', 'del', observerLink(pid)])) removed.push(observerLink(pid));
  return removed;
}

function observerLink(pid: number): string {
  return `${VIRTUAL_HOST_PREFIX}${pid}-o`;
}

/** The third octet of a 10.203.k.0/24 no other run on this machine uses (their observer links hold
 *  10.203.k.254 in the machine's own namespace). */
function freeSubnet(): number {
  const used = new Set<number>();
  for (const m of run(['ip', '-o', '-4', 'addr', 'show']).matchAll(/inet 10\.203\.(\d+)\./g)) used.add(Number(m[1]));
  for (let k = 0; k < 256; k++) if (!used.has(k)) return k;
  throw new ShardflowError('PROCESS_FAILED', `every subnet ${SUBNET_BASE}.k.0/24 is taken by other runs: remove leftovers (removeLeftovers) or stop them`);
}

export class VirtualHosts {
  private destroyed = false;
  private readonly cut = new Set<string>();
  private readonly slowed = new Set<string>();

  private constructor(
    readonly hosts: readonly VirtualHost[],
    /** The machine's own address on the hosts' subnet. */
    readonly observerAddress: string,
    private readonly switchNs: string,
    private readonly observer: string,
  ) {}

  /** Makes `count` hosts on a fresh subnet. On any failure whatever was made is deleted again. */
  static create(count: number): VirtualHosts {
    if (!Number.isInteger(count) || count < 1 || count > 32) throw new ShardflowError('CONFIG_INVALID', `--hosts must be a whole number from 1 to 32, got ${count}`);
    const tag = `${VIRTUAL_HOST_PREFIX}${process.pid}`;
    const k = freeSubnet();
    const hosts: VirtualHost[] = Array.from({ length: count }, (_, i) => ({
      name: `h${i + 1}`,
      netns: `${tag}-h${i + 1}`,
      address: `${SUBNET_BASE}.${k}.${i + 1}`,
      command: ['ip', 'netns', 'exec', `${tag}-h${i + 1}`],
    }));
    const made = new VirtualHosts(hosts, `${SUBNET_BASE}.${k}.${OBSERVER_OCTET}`, `${tag}-sw`, observerLink(process.pid));
    try {
      made.build();
    } catch (err) {
      made.destroy();
      throw err;
    }
    return made;
  }

  private build(): void {
    const sw = this.switchNs;
    run(['ip', 'netns', 'add', sw]);
    run(['ip', '-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    run(['ip', '-n', sw, 'link', 'set', 'br0', 'up']);
    for (const h of this.hosts) {
      run(['ip', 'netns', 'add', h.netns]);
      run(['ip', '-n', h.netns, 'link', 'set', 'lo', 'up']);
      // The pair is born with its host end in the host and its switch end in the switch.
      run(['ip', '-n', sw, 'link', 'add', h.name, 'type', 'veth', 'peer', 'name', HOST_LINK, 'netns', h.netns]);
      run(['ip', '-n', sw, 'link', 'set', h.name, 'master', 'br0', 'up']);
      run(['ip', '-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', HOST_LINK]);
      run(['ip', '-n', h.netns, 'link', 'set', HOST_LINK, 'up']);
    }
    run(['ip', '-n', sw, 'link', 'add', 'obs', 'type', 'veth', 'peer', 'name', this.observer, 'netns', '1']);
    run(['ip', '-n', sw, 'link', 'set', 'obs', 'master', 'br0', 'up']);
    run(['ip', 'addr', 'add', `${this.observerAddress}/24`, 'dev', this.observer]);
    run(['ip', 'link', 'set', this.observer, 'up']);
  }

  host(name: string): VirtualHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new ShardflowError('CONFIG_INVALID', `no host ${name}; hosts: ${this.hosts.map((x) => x.name).join(', ')}`);
    return h;
  }

  /** Every namespace and link this instance made, for reports and leftover checks. */
  names(): string[] {
    return [this.switchNs, ...this.hosts.map((h) => h.netns), this.observer];
  }

  /** Cuts a host off the network (every packet in and out of its link dropped, silently, as a failed
   *  switch port or a partition does: connections hang rather than close). Its own processes still
   *  reach each other. */
  partition(name: string): void {
    const h = this.host(name);
    if (this.cut.has(name)) return;
    run([...h.command, 'iptables', '-w', '-I', 'INPUT', '-i', HOST_LINK, '-j', 'DROP']);
    run([...h.command, 'iptables', '-w', '-I', 'OUTPUT', '-o', HOST_LINK, '-j', 'DROP']);
    this.cut.add(name);
  }

  heal(name: string): void {
    const h = this.host(name);
    if (!this.cut.has(name)) return;
    run([...h.command, 'iptables', '-w', '-D', 'INPUT', '-i', HOST_LINK, '-j', 'DROP']);
    run([...h.command, 'iptables', '-w', '-D', 'OUTPUT', '-o', HOST_LINK, '-j', 'DROP']);
    this.cut.delete(name);
  }

  /** Makes a host's link slow and lossy in both directions: tbf on the host's end (what it sends) and
   *  on its switch port (what it receives), and a random drop of `loss` of the packets each way. */
  slow(name: string, link: SlowLink): void {
    const h = this.host(name);
    if (this.slowed.has(name)) return;
    const burst = Math.max(1600, Math.round((link.rateKbit * 1000) / 8 / 100)); // 10 ms of the rate, at least one packet
    const tbf = ['tbf', 'rate', `${link.rateKbit}kbit`, 'burst', String(burst), 'latency', `${link.queueMs}ms`];
    run([...h.command, 'tc', 'qdisc', 'add', 'dev', HOST_LINK, 'root', ...tbf]);
    run(['ip', 'netns', 'exec', this.switchNs, 'tc', 'qdisc', 'add', 'dev', h.name, 'root', ...tbf]);
    if (link.loss > 0) {
      const drop = ['-m', 'statistic', '--mode', 'random', '--probability', String(link.loss), '-j', 'DROP'];
      run([...h.command, 'iptables', '-w', '-A', 'INPUT', '-i', HOST_LINK, ...drop]);
      run([...h.command, 'iptables', '-w', '-A', 'OUTPUT', '-o', HOST_LINK, ...drop]);
    }
    this.slowed.add(name);
  }

  /** The link of a host back to full speed, without loss (a cut stays cut). */
  restore(name: string): void {
    const h = this.host(name);
    if (!this.slowed.has(name)) return;
    tryRun([...h.command, 'tc', 'qdisc', 'del', 'dev', HOST_LINK, 'root']);
    tryRun(['ip', 'netns', 'exec', this.switchNs, 'tc', 'qdisc', 'del', 'dev', h.name, 'root']);
    for (const chain of ['INPUT', 'OUTPUT']) {
      // The statistic rules are the only ones appended; a cut is inserted at the top.
      const rules = run([...h.command, 'iptables', '-w', '-S', chain]).split('\n').filter((r) => r.includes('statistic'));
      for (const r of rules) run([...h.command, 'iptables', '-w', ...r.replace(/^-A /, '-D ').split(' ')]);
    }
    this.slowed.delete(name);
  }

  /** Deletes everything this instance made (and kills whatever still runs on the hosts). Synchronous,
   *  so that it can run in a process 'exit' handler; safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const h of this.hosts) deleteNamespace(h.netns);
    deleteNamespace(this.switchNs);
    // Deleting the switch deletes the pair, but the kernel does it asynchronously: do it now.
    tryRun(['ip', 'link', 'del', this.observer]);
  }
}

/**
 * Deletes the hosts when this process ends, however it ends short of kill -9: normal exit, an
 * uncaught error, Ctrl-C or SIGTERM (the signal ends the process as it would have without the
 * handler, after the hosts are gone; whatever runs on them dies with them). Returns a function that
 * unregisters the handlers (call it after destroying the hosts in the normal course).
 */
export function destroyOnExit(hosts: VirtualHosts, options: { signals: boolean } = { signals: true }): () => void {
  const onExit = () => hosts.destroy();
  const onSignal = (signal: NodeJS.Signals) => {
    hosts.destroy();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', onExit);
  // A launcher that stops gracefully on signals itself (shardflow up) handles them, then destroys.
  if (!options.signals) return () => process.off('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
