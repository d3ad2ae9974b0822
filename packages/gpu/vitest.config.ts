import { defineConfig } from 'vitest/config';
import { vitestShared } from '../../vitest.shared.js';

export default defineConfig({
  ...vitestShared,
  test: { ...vitestShared.test, setupFiles: ['test/setup-webgpu.ts'] },
});
