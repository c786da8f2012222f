// The one place that reads the environment. Every setting has a default and a line of documentation;
// unknown SHARDFLOW_* variables are rejected so a typo does not silently fall back to a default.
import { z } from 'zod';
import { ShardflowError } from './errors.ts';

const ENV_PREFIX = 'SHARDFLOW_';

export const configSchema = z.strictObject({
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level of every process'),
  DATA_DIR: z.string().min(1).default('.shardflow').describe('folder for local state: embedded nats-server store, result files'),
});

export type Config = z.infer<typeof configSchema>;

/** Documentation of every setting, for --help and the README. */
export function describeConfig(): { name: string; default: unknown; description: string }[] {
  return Object.entries(configSchema.shape).map(([key, schema]) => ({
    name: ENV_PREFIX + key,
    default: (schema as z.ZodDefault<z.ZodType>).def.defaultValue,
    description: schema.description ?? '',
  }));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(ENV_PREFIX) && value !== undefined) raw[name.slice(ENV_PREFIX.length)] = value;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown setting ${i.keys.map((k) => ENV_PREFIX + k).join(', ')}; known: ${Object.keys(configSchema.shape).map((k) => ENV_PREFIX + k).join(', ')}`
        : `${ENV_PREFIX}${i.path.join('.')}: ${i.message}`,
    );
    throw new ShardflowError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return parsed.data;
}
