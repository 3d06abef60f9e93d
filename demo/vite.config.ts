// Builds the browser dashboard (demo/web) into demo/dist-web, which `node demo/dist/start.js` serves.
// Relative asset paths, so the page works from any port; one bundle with yjs deduped.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  base: './',
  logLevel: 'warn',
  resolve: { dedupe: ['yjs'] },
  build: {
    outDir: fileURLToPath(new URL('./dist-web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1000,
  },
});
