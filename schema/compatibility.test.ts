import { describe, expect, it } from 'vitest';
import { compatibilityProblems, parseAvroSchema, type CompatibilityLevel } from './compatibility.ts';

const record = (fields: object[]) => parseAvroSchema({ type: 'record', name: 'User', fields });
const v1 = record([{ name: 'id', type: 'string' }]);
/** Adds a field with a default: old data reads with the new schema, new data with the old one. */
const withDefault = record([{ name: 'id', type: 'string' }, { name: 'country', type: 'string', default: 'FR' }]);
/** Adds a field without a default: the new schema cannot read old data (not backward). */
const required = record([{ name: 'id', type: 'string' }, { name: 'age', type: 'int' }]);
/** Changes a type: nothing reads across. */
const retyped = record([{ name: 'id', type: 'int' }]);

const ok = (level: CompatibilityLevel, candidate = withDefault, existing = [v1]) => compatibilityProblems(level, candidate, existing).length === 0;

describe('compatibility levels (as Confluent defines them, decided by Avro schema resolution)', () => {
  it('BACKWARD: a field with a default may be added, a field without one may not', () => {
    expect(ok('BACKWARD', withDefault)).toBe(true);
    expect(ok('BACKWARD', required)).toBe(false);
    expect(compatibilityProblems('BACKWARD', required, [v1])[0]).toMatch(/cannot read data written with version 1/);
  });

  it('FORWARD: the old schema must read new data (adding a required field is fine, removing one is not)', () => {
    expect(ok('FORWARD', required)).toBe(true);
    expect(ok('FORWARD', v1, [required])).toBe(false);
  });

  it('FULL needs both; NONE takes anything', () => {
    expect(ok('FULL', withDefault)).toBe(true);
    expect(ok('FULL', required)).toBe(false);
    expect(ok('NONE', retyped)).toBe(true);
    expect(ok('BACKWARD', retyped)).toBe(false);
  });

  it('the transitive levels check every version, the others only the latest', () => {
    // v1 -> retyped was allowed under NONE; now a schema like v1 again is backward with v1 but not with the latest.
    const history = [retyped, v1];
    expect(ok('BACKWARD', withDefault, history)).toBe(true);
    expect(ok('BACKWARD_TRANSITIVE', withDefault, history)).toBe(false);
  });

  it('a subject without versions takes any schema', () => {
    expect(ok('FULL_TRANSITIVE', retyped, [])).toBe(true);
  });
});
