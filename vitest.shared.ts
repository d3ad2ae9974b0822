import type { UserConfig } from 'vitest/config';

/** Tests import sibling packages from their sources (the `source` export condition), so no build is needed. */
export const vitestShared: UserConfig = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
};
