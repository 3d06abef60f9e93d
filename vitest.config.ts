// Root test config: one project per package (and one for the repository's scripts) so
// `vitest run` at the root runs everything.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'demo', 'bench', 'scripts'],
  },
});
