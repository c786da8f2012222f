import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests marked concurrent that may run at once in one file: jobs/seed-pipelines.test.ts runs its
    // seven at once, since each mostly waits out a job's 30 s idle timeout.
    maxConcurrency: 8,
    reporters: ['default'],
  },
});
