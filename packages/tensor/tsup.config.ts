import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.shared.js';

// Two entries: the package, and `@normkit/tensor/testing` (the backend conformance suite), which
// imports the package by name so that both share one backend registry and one Tensor class.
export default defineConfig({
  ...libraryConfig,
  entry: { index: 'src/index.ts', testing: 'src/testing/index.ts' },
  external: ['@normkit/tensor'],
  // The testing entry's self-import must type-check before dist/ exists (a clean clone): resolve it to
  // the sources; it stays an external import in the emitted .d.ts.
  dts: { compilerOptions: { customConditions: ['source'] } },
});
