// Root test config: one project per package so `vitest run` at the root runs everything.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'demo', 'bench'],
  },
});
