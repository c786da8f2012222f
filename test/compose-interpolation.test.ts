// The compose substitution the deploy tests read docker-compose.yml with: each form as compose treats it.
import { describe, expect, it } from 'vitest';
import { interpolate, interpolateTree, MissingVariableError, variableReferences } from './compose-interpolation.ts';

const env = { A: 'a', EMPTY: '' };

describe('compose interpolation', () => {
  it('substitutes plain references, unset ones as empty, and keeps $$ as a dollar', () => {
    expect(interpolate('x${A}y$A-${NONE}$NONE-$$A', env)).toBe('xaya--$A');
  });

  it('uses a default when the variable is unset (-) or unset or empty (:-)', () => {
    expect(interpolate('${NONE-d} ${EMPTY-d} ${EMPTY:-d} ${A:-d}', env)).toBe('d  d a');
  });

  it('throws with the message when a required variable is unset (?) or unset or empty (:?)', () => {
    expect(interpolate('${EMPTY?m}|${A:?m}', env)).toBe('|a');
    expect(() => interpolate('${NONE?set it}', env)).toThrow(new MissingVariableError('NONE', 'set it'));
    expect(() => interpolate('${EMPTY:?set it in .env}', env)).toThrow('required variable EMPTY is missing a value: set it in .env');
  });

  it('refuses forms it does not know rather than passing them unread', () => {
    for (const text of ['${A:+x}', '${}', '$-', '${1A}']) expect(() => interpolate(text, env), text).toThrow(/unsupported substitution/);
  });

  it('lists the references of a text and substitutes the values of a tree, not its keys', () => {
    expect(variableReferences('$$X ${A:?m} $B ${C-d}')).toEqual([
      { name: 'A', operator: ':?', argument: 'm' },
      { name: 'B', operator: '', argument: '' },
      { name: 'C', operator: '-', argument: 'd' },
    ]);
    expect(interpolateTree({ '${A}': ['${A}', 3, { k: '$A' }] }, env)).toEqual({ '${A}': ['a', 3, { k: 'a' }] });
  });
});
