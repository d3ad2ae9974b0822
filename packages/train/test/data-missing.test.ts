import { describe, expect, it, vi } from 'vitest';

// Pretend Debian's package is not installed, whatever this machine has.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return { ...fs, existsSync: (p: string) => !String(p).startsWith('/usr/share/datasets/') && fs.existsSync(p) };
});

const { loadFashionMnist, resolveDataDir } = await import('../src/data/index.js');

describe('Fashion-MNIST when dataset-fashion-mnist is not installed', () => {
  it('says which Debian package to install or that another directory can be passed', () => {
    const fix = expect.stringMatching(
      /fashion-mnist is not installed: no directory \/usr\/share\/datasets\/fashion-mnist; install Debian's package \(apt-get install dataset-fashion-mnist\) or pass the directory/,
    );
    for (const f of [() => resolveDataDir('fashion-mnist'), () => loadFashionMnist()])
      expect(f).toThrow(expect.objectContaining({ name: 'NormkitError', code: 'DATA_NOT_FOUND', message: fix }));
  });
});
