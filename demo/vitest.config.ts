// Per-package test config (the root config lists every package as a project).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'demo',
    include: ['test/**/*.test.ts'],
    setupFiles: ['../scripts/polyfills.mjs'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
