// Every JetStream stream and KV bucket of the cluster's account, as Kafka UI shows topics: messages,
// bytes, limits, consumers, subjects.
import type { JetStreamManager } from '@nats-io/jetstream';

export interface StreamView {
  name: string;
  /** 'kv' for a KV bucket (shown under the bucket's name), 'stream' otherwise. */
  kind: 'stream' | 'kv';
  subjects: string[];
  messages: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
  consumers: number;
  /** Limits as JetStream states them: -1 (and max_age_ms 0) mean none. */
  max_bytes: number;
  max_msgs: number;
  max_age_ms: number;
  max_msg_size: number;
  replicas: number;
  storage: string;
}

export async function listStreams(jsm: JetStreamManager): Promise<StreamView[]> {
  const out: StreamView[] = [];
  for await (const info of jsm.streams.list()) {
    const { config: c, state: s } = info;
    const kv = c.name.startsWith('KV_');
    out.push({
      name: kv ? c.name.slice(3) : c.name,
      kind: kv ? 'kv' : 'stream',
      subjects: c.subjects ?? [],
      messages: s.messages,
      bytes: s.bytes,
      first_seq: s.first_seq,
      last_seq: s.last_seq,
      consumers: s.consumer_count,
      max_bytes: c.max_bytes,
      max_msgs: c.max_msgs,
      max_age_ms: Math.round(c.max_age / 1e6),
      max_msg_size: c.max_msg_size ?? -1,
      replicas: c.num_replicas,
      storage: String(c.storage),
    });
  }
  return out.sort((a, b) => (a.kind === b.kind ? (a.name < b.name ? -1 : 1) : a.kind === 'stream' ? -1 : 1));
}
