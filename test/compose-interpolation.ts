// Docker Compose's variable substitution, for the tests that read docker-compose.yml without Docker.
// Only the forms compose documents and our file may use: $$, $NAME, ${NAME}, ${NAME:-default},
// ${NAME-default}, ${NAME:?message} and ${NAME?message}. Anything else is refused, so a new form in
// the file fails a test instead of passing unread.

export type Environment = Readonly<Record<string, string | undefined>>;

/** One `${...}` or `$NAME` of a text: the variable and how a missing value is treated. */
export interface VariableReference {
  name: string;
  /** '' (plain), ':-' / '-' (default), ':?' / '?' (required). */
  operator: '' | ':-' | '-' | ':?' | '?';
  argument: string;
}

/** Compose's own wording, so a test can expect what `docker compose up` prints. */
export class MissingVariableError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`required variable ${variable} is missing a value${reason ? `: ${reason}` : ''}`);
    this.name = 'MissingVariableError';
  }
}

const TOKEN = /\$(?:(\$)|([A-Za-z_][A-Za-z0-9_]*)|\{([^}]*)\}|)/g;
const BRACED = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?)(.*))?$/s;

export function variableReferences(text: string): VariableReference[] {
  const found: VariableReference[] = [];
  for (const [whole, dollar, bare, braced] of text.matchAll(TOKEN)) {
    const reference = parseReference(text, whole, dollar, bare, braced);
    if (reference) found.push(reference);
  }
  return found;
}

export function interpolate(text: string, env: Environment): string {
  return text.replace(TOKEN, (whole: string, dollar?: string, bare?: string, braced?: string) => {
    const reference = parseReference(text, whole, dollar, bare, braced);
    if (!reference) return '$';
    const value = env[reference.name];
    switch (reference.operator) {
      case '':
        return value ?? '';
      case ':-':
        return value ? value : reference.argument;
      case '-':
        return value ?? reference.argument;
      case ':?':
        if (!value) throw new MissingVariableError(reference.name, reference.argument);
        return value;
      case '?':
        if (value === undefined) throw new MissingVariableError(reference.name, reference.argument);
        return value;
    }
  });
}

/** Substitutes every string value of a parsed compose file, as compose does (keys are left alone). */
export function interpolateTree<T>(value: T, env: Environment): T {
  if (typeof value === 'string') return interpolate(value, env) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => interpolateTree(v, env)) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateTree(v, env)])) as T;
  return value;
}

/** undefined for `$$` (a literal `$`). */
function parseReference(text: string, whole: string, dollar?: string, bare?: string, braced?: string): VariableReference | undefined {
  if (dollar) return undefined;
  if (bare) return { name: bare, operator: '', argument: '' };
  const parts = braced === undefined ? null : BRACED.exec(braced);
  if (!parts) throw new Error(`unsupported substitution ${JSON.stringify(whole)} in ${JSON.stringify(text)}`);
  return { name: parts[1]!, operator: (parts[2] ?? '') as VariableReference['operator'], argument: parts[3] ?? '' };
}
