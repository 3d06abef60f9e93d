// Per-package test config (the root config lists every package as a project).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'agents',
    include: ['test/**/*.test.ts'],
    setupFiles: [],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
