// Reads a bounded range of a JetStream stream, in sequence order, through an ordered consumer (no
// durable state on the server, no acknowledgements): the source side of a batch run.
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ShardflowError } from '../common/errors.ts';

export interface StreamMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  /** When the stream stored the message, epoch ms. */
  readonly timestamp: number;
  header(name: string): string | undefined;
}

export interface StreamBounds {
  /** Oldest sequence still stored (retention may have removed older ones). */
  readonly first: number;
  readonly last: number;
  readonly messages: number;
}

export async function streamBounds(nc: NatsConnection, stream: string, advice: string): Promise<StreamBounds> {
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.streams.info(stream);
    return { first: info.state.first_seq, last: info.state.last_seq, messages: info.state.messages };
  } catch (cause) {
    if ((cause as Error).message?.includes('stream not found')) {
      throw new ShardflowError('STREAM_MISSING', `stream ${stream} does not exist on this NATS server; ${advice}`, { cause });
    }
    throw cause;
  }
}

/** Messages with sequences from `from` through `to` still in the stream; ends after `to`. */
export async function* readStreamRange(nc: NatsConnection, stream: string, from: number, to: number): AsyncGenerator<StreamMessage> {
  if (from > to) return;
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
  const messages = await consumer.consume({ max_messages: 1_000 });
  try {
    for await (const m of messages) {
      // Sequences deleted since the bounds were read can make the first one after them lie past `to`.
      if (m.seq > to) break;
      yield {
        seq: m.seq,
        subject: m.subject,
        data: m.data,
        timestamp: Math.floor(m.info.timestampNanos / 1e6),
        header: (name) => m.headers?.get(name) || undefined,
      };
      if (m.seq >= to || m.info.pending === 0) break;
    }
  } finally {
    messages.stop();
  }
}
