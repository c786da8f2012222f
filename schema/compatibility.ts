// Whether a new version of a subject's schema may be registered, by the subject's compatibility level,
// with the rules and names of Confluent's schema registry. Avro's schema resolution (avsc's
// createResolver: can a reader with schema R read data written with schema W?) decides each pair.
//   BACKWARD   consumers on the new schema read data written with the latest one (the default:
//              upgrade consumers first)
//   FORWARD    consumers on the latest schema read data written with the new one
//   FULL       both
//   *_TRANSITIVE  the same against every earlier version, not only the latest
//   NONE       anything goes
import avro from 'avsc';
import type { Type } from 'avsc';
import { describeError } from '../common/errors.ts';

export const COMPATIBILITY_LEVELS = ['BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE'] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

export function isCompatibilityLevel(value: unknown): value is CompatibilityLevel {
  return typeof value === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(value);
}

/** Parses an Avro schema as the registry and the decoders do (unions unwrapped where unambiguous,
 *  logical types read as their underlying type). Throws on an invalid schema. */
export function parseAvroSchema(schema: unknown): Type {
  return avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'auto' });
}

/** Problems that stop `candidate` from joining a subject whose versions (oldest first) are
 *  `existing`; empty when it may. */
export function compatibilityProblems(level: CompatibilityLevel, candidate: Type, existing: readonly Type[]): string[] {
  if (level === 'NONE' || existing.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? existing.map((t, i) => ({ t, version: i + 1 })) : [{ t: existing.at(-1)!, version: existing.length }];
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const problems: string[] = [];
  for (const { t, version } of against) {
    if (backward) {
      const why = cannotRead(candidate, t);
      if (why) problems.push(`the new schema cannot read data written with version ${version}: ${why}`);
    }
    if (forward) {
      const why = cannotRead(t, candidate);
      if (why) problems.push(`version ${version} cannot read data written with the new schema: ${why}`);
    }
  }
  return problems;
}

/** Why a reader with `reader` cannot read what `writer` wrote; undefined when it can. */
function cannotRead(reader: Type, writer: Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    return describeError(err);
  }
}
