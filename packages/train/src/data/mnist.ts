import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NormkitError } from '@normkit/tensor';
import { ImageDataset, type ImageDatasetOptions } from './dataset.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, readIdx } from './idx.js';

/** Where Debian's `dataset-fashion-mnist` package installs the four gzip'd IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The ten Fashion-MNIST classes, by label. */
export const FASHION_MNIST_CLASSES = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Data sets known by name: directory and the Debian package that installs it. */
const KNOWN_DATA: Readonly<Record<string, { dir: string; debianPackage: string }>> = {
  'fashion-mnist': { dir: FASHION_MNIST_DIR, debianPackage: 'dataset-fashion-mnist' },
};

/** The training and test splits of an MNIST-format directory. */
export interface MnistData {
  /** The directory the files came from. */
  readonly dir: string;
  /** `train-*` files: images `[N, 1, H, W]`. */
  readonly train: ImageDataset;
  /** `t10k-*` files. */
  readonly test: ImageDataset;
}

/**
 * Maps a data set name to its directory (`fashion-mnist` → `/usr/share/datasets/fashion-mnist`,
 * installed by Debian's `dataset-fashion-mnist`); anything else is taken as a directory path.
 * Throws `DATA_NOT_FOUND` when the directory does not exist, saying what to install or pass.
 *
 * @example
 * ```ts
 * resolveDataDir('fashion-mnist'); // '/usr/share/datasets/fashion-mnist'
 * resolveDataDir('./my-mnist');     // absolute path of ./my-mnist
 * ```
 */
export function resolveDataDir(nameOrPath: string): string {
  const known = KNOWN_DATA[nameOrPath];
  const dir = known ? known.dir : resolve(nameOrPath);
  if (existsSync(dir) && statSync(dir).isDirectory()) return dir;
  const fix = known
    ? `install Debian's package (apt-get install ${known.debianPackage}) or pass the directory that holds its IDX files`
    : `pass a directory that holds train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz), or a known name (${Object.keys(KNOWN_DATA).join(', ')})`;
  throw new NormkitError('DATA_NOT_FOUND', `data: ${known ? `${nameOrPath} is not installed: ` : ''}no directory ${dir}; ${fix}`, {
    dir,
    name: nameOrPath,
  });
}

/**
 * Loads an MNIST-format directory (MNIST, Fashion-MNIST, KMNIST...): the files
 * `{train,t10k}-{images-idx3,labels-idx1}-ubyte`, each gzip'd (`.gz`) or not. Images stay uint8 and
 * become float32 `[B, 1, H, W]` in [0, 1] per batch (or `(v - mean) / std` with `opts`).
 *
 * @example
 * ```ts
 * const { train, test } = loadMnistDir('/usr/share/datasets/fashion-mnist');
 * train.size; // 60000
 * ```
 */
export function loadMnistDir(dir: string, opts: ImageDatasetOptions = {}): MnistData {
  const root = resolveDataDir(dir);
  const train = readSplit(root, 'train');
  const test = readSplit(root, 't10k');
  // One class count for both splits, even if one of them misses the highest label.
  let max = 0;
  for (const split of [train, test]) for (const v of split.labels) max = Math.max(max, v);
  const make = (s: RawSplit) => new ImageDataset(s.images, s.labels, s.sampleShape, max + 1, opts);
  return { dir: root, train: make(train), test: make(test) };
}

/**
 * Loads Fashion-MNIST from Debian's `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`),
 * or from `dir`. 60000 training and 10000 test images of 28×28, ten classes (`FASHION_MNIST_CLASSES`).
 *
 * @example
 * ```ts
 * const { train } = loadFashionMnist();
 * train.batch([0]).y.toFlatArray(); // [9] — an ankle boot
 * ```
 */
export function loadFashionMnist(dir = 'fashion-mnist', opts: ImageDatasetOptions = {}): MnistData {
  return loadMnistDir(dir, opts);
}

interface RawSplit {
  images: Uint8Array;
  labels: Uint8Array;
  sampleShape: [number, number, number];
}

function readSplit(dir: string, prefix: 'train' | 't10k'): RawSplit {
  const imagesFile = findFile(dir, `${prefix}-images-idx3-ubyte`);
  const labelsFile = findFile(dir, `${prefix}-labels-idx1-ubyte`);
  const images = readIdx(imagesFile, IDX_IMAGES_MAGIC);
  const labels = readIdx(labelsFile, IDX_LABELS_MAGIC);
  const [n, h, w] = images.dims as [number, number, number];
  if (labels.dims[0] !== n)
    throw new NormkitError(
      'IDX_COUNT_MISMATCH',
      `MNIST loader: ${imagesFile} holds ${n} images but ${labelsFile} holds ${labels.dims[0]} labels; the two files must come from the same split — replace the one that does not match`,
      { imagesFile, labelsFile, images: n, labels: labels.dims[0] },
    );
  return { images: images.data, labels: labels.data, sampleShape: [1, h, w] };
}

function findFile(dir: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  const present = readdirSync(dir).slice(0, 20).join(', ') || 'nothing';
  throw new NormkitError(
    'FILE_NOT_FOUND',
    `MNIST loader: ${dir} has no ${base} or ${base}.gz (it holds: ${present}); pass the directory of an MNIST-format data set`,
    {
      dir,
      file: base,
    },
  );
}
