import { describe, expect, it } from 'vitest';
import { eventsOf, packEvents } from './event-batch.ts';

const enc = new TextEncoder();

describe('batches of events', () => {
  it('unpack to the events packed, byte for byte, whatever the bytes', () => {
    const events = [enc.encode('{"k":"a"}'), new Uint8Array([0xff, 0x00, 0x0d, 0x0a]), new Uint8Array(0), enc.encode('x'.repeat(70_000))];
    const back = eventsOf(packEvents(events), true)!;
    expect(back.map((b) => Buffer.from(b).toString('hex'))).toEqual(events.map((b) => Buffer.from(b).toString('hex')));
  });

  it('take a message that is not a batch as one event, and refuse a batch body that is not one', () => {
    const raw = enc.encode('{"k":"a"}');
    expect(eventsOf(raw, false)).toEqual([raw]);
    for (const body of [enc.encode('garbage'), packEvents([]), new Uint8Array([0x92, 0x01, 0x02])]) expect(eventsOf(body, true)).toBeUndefined();
  });
});
