import type { Options } from 'tsup';

/** One build for every package: ESM + CJS + .d.ts from src/index.ts. */
export const libraryConfig: Options = {
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { customConditions: [] } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  treeshake: true,
};
