// Tests of the repository's own scripts (the root config lists this folder as a project).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'scripts',
    include: ['test/**/*.test.ts'],
    testTimeout: 90_000,
  },
});
