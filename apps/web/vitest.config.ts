import { defineConfig } from 'vitest/config';
import { vitestShared } from '../../vitest.shared.js';

// The browser tests build the page and drive chromium: one file at a time, with room for a slow machine.
export default defineConfig({
  ...vitestShared,
  test: { ...vitestShared.test, testTimeout: 240_000, hookTimeout: 240_000, fileParallelism: false },
});
