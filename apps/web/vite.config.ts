import { defineConfig } from 'vite';

// Static files any host can serve: relative asset paths, module workers (they import code-split
// chunks), and onnxruntime-web's wasm emitted as an asset of the build (nothing is fetched from a CDN).
// NORMKIT_WEB_SOURCE=1 builds from the packages' sources (the `source` export condition), as the tests
// do, so the page can be tested without building every package first.
const fromSource = process.env.NORMKIT_WEB_SOURCE === '1';

export default defineConfig({
  base: './',
  resolve: fromSource ? { conditions: ['source', 'browser', 'module', 'import', 'default'] } : {},
  worker: { format: 'es', rolldownOptions: { external: [/^node:/] } },
  build: {
    outDir: process.env.NORMKIT_WEB_OUT_DIR || 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
    // @normkit/onnx reads files in Node through `await import('node:fs')` inside loadModel/saveModel,
    // which the page never calls: keep those imports as they are instead of stubbing them.
    rolldownOptions: { external: [/^node:/], checks: { pluginTimings: false } },
  },
});
