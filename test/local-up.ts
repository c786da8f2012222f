// Starts `shardflow up` (the README's main command) as a child process for integration tests, and
// waits until it says the cluster is up.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, waitFor } from './cluster-harness.ts';

export interface UpRun {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

export async function startUp(args: string[], env: Record<string, string>): Promise<UpRun> {
  // The console on a free port unless the test names one: tests run side by side.
  const childEnv = { SHARDFLOW_CONSOLE_PORT: '0', ...env };
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'shardflow.mjs'), 'up', ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => out.includes('local cluster is up') || child.exitCode !== null, 90_000, 'the local cluster to come up');
  if (child.exitCode !== null) throw new Error(`shardflow up exited:\n${out}`);
  return { child, output: () => out, exit };
}
