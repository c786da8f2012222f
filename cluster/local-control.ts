// Requests to a running local cluster (`shardflow up`), sent by the CLI verbs `scale`, `kill` and
// `down` over core NATS request/reply on LOCAL_CONTROL_SUBJECT; the `up` process answers.

export type LocalControlRequest =
  /** Start or stop workers until N run. Replies with the running workers. */
  | { op: 'scale'; workers: number }
  /** kill -9 one process: a worker or coordinator (`id`, else one at random), or the current leader.
   *  The cluster restarts it after `restartAfterMs`. Replies with what was killed. */
  | { op: 'kill'; target: 'worker' | 'coordinator' | 'leader'; id?: string }
  /** Stop worker `id` gracefully (checkpoint, release) and run without it. Replies with the workers left. */
  | { op: 'drain'; id: string }
  /** Stop everything gracefully (workers checkpoint first), as Ctrl-C does. Replies before stopping. */
  | { op: 'down' };

export type LocalControlReply =
  | { ok: true; workers?: string[]; killed?: { role: string; id: string; pid: number | undefined }; stopping?: boolean }
  | { ok: false; error: string };
