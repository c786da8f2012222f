// Integration: Avro from Kafka clients, unchanged. The @kafkajs/confluent-schema-registry client
// registers the user-activity schema with the registry's REST API (kept in NATS KV), evolves it once
// compatibly and is refused an incompatible change; records it encodes (Confluent wire format) are
// published to the job's ingest subject, `shardflow produce --format avro` publishes more straight to
// the partitions, a worker is killed -9 on the way, and the results equal an oracle computed from the
// JSON the records were made of. An unknown schema id and a corrupt record are dead-lettered each
// with its own reason.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.ts';
import { deadLetterStream, ingestSubject, inputStream, resultsBucket } from '../common/names.ts';
import { seededRandom } from '../common/random.ts';
import { readKvResults } from '../cluster/sinks/kv-sink.ts';
import type { Job } from '../jobs/define-job.ts';
import { decodeEvent } from '../jobs/event-decoder.ts';
import { USER_ACTIVITY_AVRO_SCHEMA, userActivity, userEventGenerator } from '../jobs/examples/user-activity.ts';
import { loadRawEvents } from '../cli/raw-events.ts';
import { ensureJobTopology } from '../nats/topology.ts';
import { readStream, recentWarnings, ROOT, startTestNats, waitFor, WorkerProcess, type TestNats } from '../test/cluster-harness.ts';
import { startRegistryServer, type RegistryServer } from './registry-http.ts';
import { SchemaRegistry } from './schema-registry.ts';
import { frame } from './wire-format.ts';

const run = promisify(execFile);
const TOKEN = 'test-registry-token-0123456789';
const SUBJECT = userActivity.avro!.subject;
const DAY = 86_400_000;

let nats: TestNats | undefined;
let server: RegistryServer | undefined;
let worker: WorkerProcess | undefined;
afterAll(async () => {
  await worker?.kill();
  await server?.close();
  await nats?.close();
});

/** Per day (closed before `before`) and event type: event_count and unique_users of the valid events. */
function oracle(raws: readonly string[], before: number): Map<string, { event_count: number; unique_users: number }> {
  const groups = new Map<string, { n: number; users: Set<string> }>();
  for (const raw of raws) {
    const d = decodeEvent(userActivity, raw, Date.now());
    if (!d.ok || d.eventTime >= before) continue;
    const id = `${d.key}@${Math.floor(d.eventTime / DAY) * DAY}`;
    const g = groups.get(id) ?? { n: 0, users: new Set<string>() };
    g.n++;
    g.users.add(d.event.user_id);
    groups.set(id, g);
  }
  return new Map([...groups].map(([k, g]) => [k, { event_count: g.n, unique_users: g.users.size }]));
}

describe('Avro input through a schema registry kept in NATS KV', () => {
  it('takes Kafka clients\' Avro unchanged, evolves the schema as documented and counts exactly once across a kill -9', async () => {
    nats = await startTestNats();
    const registry = await SchemaRegistry.open(nats.nc, { create: true, replicas: 1 });
    server = await startRegistryServer(registry, { host: '127.0.0.1', port: 0, token: TOKEN, log: createLogger('cli', 'silent') });
    const client = new ConfluentClient({ host: server.url, auth: { username: 'producer', password: TOKEN } });

    // Writes need the token; reads do not.
    const anonymous = new ConfluentClient({ host: server.url });
    await expect(anonymous.register({ type: SchemaType.AVRO, schema: JSON.stringify(USER_ACTIVITY_AVRO_SCHEMA) }, { subject: SUBJECT })).rejects.toMatchObject({ status: 401 });

    const { id: v1 } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(USER_ACTIVITY_AVRO_SCHEMA) }, { subject: SUBJECT });
    // Compatible (BACKWARD, the default): a new field with a default.
    const v2Schema = { ...USER_ACTIVITY_AVRO_SCHEMA, fields: [...USER_ACTIVITY_AVRO_SCHEMA.fields, { name: 'country', type: 'string', default: 'FR' }] };
    const { id: v2 } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2Schema) }, { subject: SUBJECT });
    expect(v2).toBeGreaterThan(v1);
    // Incompatible: a new field without a default cannot read the data of version 2.
    const v3Schema = { ...v2Schema, fields: [...v2Schema.fields, { name: 'tenant', type: 'string' }] };
    const refused = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(v3Schema) }, { subject: SUBJECT }).then(() => undefined, (err: { status?: number; message: string }) => err);
    expect(refused?.status).toBe(409);
    expect(refused?.message).toMatch(/incompatible.*cannot read data written with version 2/);
    expect(await client.getLatestSchemaId(SUBJECT)).toBe(v2);
    const check = await fetch(`${server.url}/compatibility/subjects/${SUBJECT}/versions/latest?verbose=true`, { method: 'POST', body: JSON.stringify({ schema: JSON.stringify(v3Schema) }) });
    expect(check.headers.get('content-type')).toBe('application/vnd.schemaregistry.v1+json');
    expect(await check.json()).toMatchObject({ is_compatible: false });
    const missing = await fetch(`${server.url}/subjects/nope-value/versions/latest`);
    expect([missing.status, await missing.json()]).toEqual([404, { error_code: 40401, message: expect.stringMatching(/nope-value/) as unknown }]);
    // Registering again is idempotent: the same id and version.
    expect((await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(USER_ACTIVITY_AVRO_SCHEMA) }, { subject: SUBJECT })).id).toBe(v1);

    // Two days well in the past (closed whatever the time of day), then one event of each type now, so
    // every partition's watermark passes them.
    const today = Math.floor(Date.now() / DAY) * DAY;
    const start = today - 2 * DAY - 60_000;
    const generate = userEventGenerator({ dirtyShare: 0 });
    const random = seededRandom(11);
    const viaClient = Array.from({ length: 1_500 }, (_, i) => generate(random, i, start));
    const js = jetstream(nats.nc);
    await ensureJobTopology(nats.nc, await jetstreamManager(nats.nc), userActivity as unknown as Job<unknown>, { replicas: 1 });
    for (const [i, raw] of viaClient.entries()) {
      const e = JSON.parse(raw) as Record<string, unknown>;
      const record = { ...Object.fromEntries(USER_ACTIVITY_AVRO_SCHEMA.fields.map((f) => [f.name, null])), ...e, ts: Date.parse(e.ts as string) };
      // Producers on both versions at once, as during a rolling upgrade.
      const payload = i % 2 === 0 ? await client.encode(v1, record) : await client.encode(v2, { ...record, country: 'DE' });
      nats.nc.publish(ingestSubject(userActivity.name), payload);
    }
    const unknown = await js.publish(ingestSubject(userActivity.name), frame(424_242, Buffer.from([2, 0x61])));
    const good = await client.encode(v1, { ...Object.fromEntries(USER_ACTIVITY_AVRO_SCHEMA.fields.map((f) => [f.name, null])), user_id: 'u-1', event_type: 'VIEW', ts: start });
    const corrupt = await js.publish(ingestSubject(userActivity.name), good.subarray(0, good.length - 4));
    // The CLI producer: the job's generator (2% dirty records among them), Avro with the latest version, straight to the partitions.
    const cli = await run(process.execPath, [`${ROOT}/bin/shardflow.mjs`, 'produce', '--job', userActivity.name, '--format', 'avro', '--events', '1500', '--seed', '5', '--start', String(start)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', SHARDFLOW_NATS_URL: nats.url, SHARDFLOW_LOG_LEVEL: 'warn' },
    });
    expect(cli.stdout).toContain(`encoding Avro with ${SUBJECT} version 2 (schema id ${v2})`);
    const viaCli = loadRawEvents(userActivity as unknown as Job<unknown>, { events: 1_500, seed: 5, start });
    const closers = ['VIEW', 'CLICK', 'ADD_TO_CART', 'PURCHASE', 'LOGIN', 'LOGOUT', 'SEARCH'].map((t) => ({ user_id: 'u-closer', event_type: t, ts: Date.now() - 60_000, amount: 1 }));
    for (const c of closers) nats.nc.publish(ingestSubject(userActivity.name), await client.encode(v2, { ...Object.fromEntries(v2Schema.fields.map((f) => [f.name, null])), ...c, country: 'FR' }));
    await nats.nc.flush();

    const jsm = await jetstreamManager(nats.nc);
    const producedStraight = (await jsm.streams.info(inputStream(userActivity.name))).state.messages;
    worker = new WorkerProcess('w-avro', ['--job', userActivity.name, '--partitions', 'all'], { SHARDFLOW_NATS_URL: nats.url });
    await worker.start();
    // kill -9 once the routers have moved some of the ingest stream's events to the partitions.
    await waitFor(async () => (await jsm.streams.info(inputStream(userActivity.name))).state.messages > producedStraight, 30_000, 'routing under way');
    await worker.kill();
    await worker.start();

    const expected = oracle([...viaClient, ...viaCli], today);
    expect(expected.size).toBeGreaterThan(10);
    const kv = await new Kvm(nats.nc).open(resultsBucket(userActivity.name));
    const actual = async () => new Map((await readKvResults(kv)).filter((r) => r.window_end <= today).map((r) => [`${r.key}@${r.window_start}`, { event_count: r.event_count, unique_users: r.unique_users }]));
    await waitFor(async () => JSON.stringify([...(await actual())].sort()) === JSON.stringify([...expected].sort()), 60_000, 'results equal to the oracle').catch(async (err: Error) => {
      throw new Error(`${err.message}\nexpected ${JSON.stringify([...expected].sort())}\nactual ${JSON.stringify([...(await actual())].sort())}\n${recentWarnings([worker!])}`);
    });

    const dlq = await readStream(nats.nc, deadLetterStream(userActivity.name));
    const reasonAt = (seq: number) => dlq.find((m) => m.headers['Shardflow-Partition'] === 'i' && Number(m.headers['Shardflow-Source-Seq']) === seq)?.headers;
    expect(reasonAt(unknown.seq)).toMatchObject({ 'Shardflow-Reason': 'unknown-schema-id', 'Shardflow-Message': expect.stringMatching(/schema id 424242/) as unknown });
    expect(reasonAt(corrupt.seq)).toMatchObject({ 'Shardflow-Reason': 'malformed-avro', 'Shardflow-Message': expect.stringMatching(new RegExp(`schema id ${v1}`)) as unknown });
    // The dirty records of the CLI's generator went out as JSON (they do not fit the schema) and are
    // dead-lettered with their own reasons; none of them is an Avro reason.
    const fromPartitions = dlq.filter((m) => m.headers['Shardflow-Partition'] !== 'i').map((m) => m.headers['Shardflow-Reason']);
    expect(fromPartitions.length).toBeGreaterThan(0);
    expect(fromPartitions.filter((r) => r === 'unknown-schema-id' || r === 'malformed-avro')).toEqual([]);
    expect(worker.running).toBe(true);
    expect(await worker.stop()).toBe(0);
  }, 150_000);
});
