// Per-package test config (the root config lists every package as a project).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'bench',
    include: ['test/**/*.test.ts'],
    setupFiles: ['../scripts/polyfills.mjs'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
