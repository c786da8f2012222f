// The settings schema: sizes such as SHARDFLOW_NATS_MAX_STORE are read as bytes, and a bad value is
// refused with a message that says what to write.
import { describe, expect, it } from 'vitest';
import { loadConfig, parseByteSize } from './config.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe('parseByteSize', () => {
  it('reads a plain number as bytes and a number with a binary unit as that many units', () => {
    expect(parseByteSize('8589934592')).toBe(8 * GiB);
    expect(parseByteSize('8GiB')).toBe(8 * GiB);
    expect(parseByteSize('512MiB')).toBe(512 * MiB);
    expect(parseByteSize('512 MiB')).toBe(512 * MiB);
    expect(parseByteSize(' 64kib ')).toBe(64 * 1024);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * GiB);
    expect(parseByteSize('2TiB')).toBe(2 * 1024 * GiB);
    expect(parseByteSize('100B')).toBe(100);
  });

  it('refuses decimal units, negative numbers, missing numbers and unknown units', () => {
    for (const text of ['8GB', '8G', '-1', 'GiB', '', 'eight GiB', '1e9', '8 GiB extra', '99999999999TiB']) expect(parseByteSize(text), text).toBeUndefined();
  });
});

describe('SHARDFLOW_NATS_MAX_STORE', () => {
  it('is 8 GiB unless set', () => {
    expect(loadConfig({}).NATS_MAX_STORE).toBe(8 * GiB);
  });

  it('takes a size or a number of bytes', () => {
    expect(loadConfig({ SHARDFLOW_NATS_MAX_STORE: '512MiB' }).NATS_MAX_STORE).toBe(512 * MiB);
    expect(loadConfig({ SHARDFLOW_NATS_MAX_STORE: '20GiB' }).NATS_MAX_STORE).toBe(20 * GiB);
    expect(loadConfig({ SHARDFLOW_NATS_MAX_STORE: String(3 * GiB) }).NATS_MAX_STORE).toBe(3 * GiB);
  });

  it('refuses a value that is not a size, saying what to write', () => {
    expect(() => loadConfig({ SHARDFLOW_NATS_MAX_STORE: '8GB' })).toThrow(/SHARDFLOW_NATS_MAX_STORE: "8GB" is not a size; write a number and a unit, e\.g\. 8GiB or 512MiB/);
    expect(() => loadConfig({ SHARDFLOW_NATS_MAX_STORE: 'lots' })).toThrow(/SHARDFLOW_NATS_MAX_STORE: "lots" is not a size/);
  });

  it('refuses a store too small to hold anything', () => {
    expect(() => loadConfig({ SHARDFLOW_NATS_MAX_STORE: '4096' })).toThrow(/SHARDFLOW_NATS_MAX_STORE: "4096" is too small; write at least 1MiB/);
    expect(() => loadConfig({ SHARDFLOW_NATS_MAX_STORE: '0' })).toThrow(/too small/);
  });
});
