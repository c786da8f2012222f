// The storage section of `shardflow status`: each stream's size against its limit, messages and max
// age, and the JetStream store, as a person reads them.
import { describe, expect, it } from 'vitest';
import type { ClusterStorage } from '../coordinator/cluster-status.ts';
import { formatBytes, storageLines } from './commands/status.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const DAY = 86_400_000;

describe('formatBytes', () => {
  it('uses binary units with at most three significant figures', () => {
    expect([0, 512, 2048, 12.4 * MiB, 140 * MiB, GiB, 8 * GiB, 1536 * GiB].map(formatBytes)).toEqual(['0 B', '512 B', '2.0 KiB', '12.4 MiB', '140 MiB', '1.0 GiB', '8.0 GiB', '1.5 TiB']);
  });
});

describe('the storage lines of `shardflow status`', () => {
  const storage: ClusterStorage = {
    streams: [
      { stream: 'KV_shardflow-checkpoints', bytes: 3 * MiB, messages: 16, max_bytes: -1, max_age_ms: 0, max_msgs: -1 },
      { stream: 'shardflow-station-sentiment-dlq', bytes: 64 * MiB, messages: 900, max_bytes: 64 * MiB, max_age_ms: 7 * DAY, max_msgs: -1 },
      { stream: 'shardflow-station-sentiment-in', bytes: 12.4 * MiB, messages: 52_311, max_bytes: GiB, max_age_ms: 7 * DAY, max_msgs: -1 },
      { stream: 'shardflow-station-sentiment-late', bytes: 10, messages: 1, max_bytes: 64 * MiB, max_age_ms: 12 * 3_600_000, max_msgs: 1_000 },
    ],
    account: { storage_bytes: 140 * MiB, max_storage_bytes: 8 * GiB, reserved_bytes: 1408 * MiB },
  };

  it('give each stream its size against its limit with a percentage, its messages and its max age', () => {
    const lines = storageLines(storage);
    expect(lines[0]).toMatch(/^ {2}KV_shardflow-checkpoints +3\.0 MiB \(no byte limit\) +16 msgs$/);
    expect(lines[1]).toMatch(/^ {2}shardflow-station-sentiment-dlq +64\.0 MiB \/ 64\.0 MiB \(100%\) +900 msgs +max age 7d$/);
    expect(lines[2]).toMatch(/^ {2}shardflow-station-sentiment-in +12\.4 MiB \/ 1\.0 GiB \(1%\) +52,311 msgs +max age 7d$/);
    // Something stored never shows as 0%.
    expect(lines[3]).toMatch(/^ {2}shardflow-station-sentiment-late +10 B \/ 64\.0 MiB \(<1%\) +1 msg of at most 1,000 +max age 12h$/);
    // Sizes start in one column.
    expect(new Set(lines.slice(0, 4).map((l) => l.search(/\d/))).size).toBe(1);
  });

  it('end with the JetStream store: used against the account limit, and what the limits reserve', () => {
    expect(storageLines(storage).at(-1)).toBe('  JetStream store  140 MiB used of 8.0 GiB (2%); 1.4 GiB reserved by stream limits');
    const unlimited = storageLines({ streams: [], account: { storage_bytes: 0, max_storage_bytes: -1, reserved_bytes: 0 } });
    expect(unlimited).toEqual(['  no shardflow streams yet', "  JetStream store  0 B used (no account limit: the server's max_file_store bounds it); 0 B reserved by stream limits"]);
  });
});
