/**
 * Data for training: an IDX (MNIST-format) reader, Fashion-MNIST from Debian's
 * `dataset-fashion-mnist`, datasets and a resumable seeded loader, image augmentations for
 * self-supervised learning, and synthetic sets for the theory experiments.
 *
 * @example
 * ```ts
 * import { DataLoader, loadFashionMnist, splitValidation } from '@normkit/train';
 * const { train, validation } = splitValidation(loadFashionMnist().train, { validation: 5000, seed: 0 });
 * for (const { x, y } of new DataLoader(train, { batchSize: 128, seed: 0 })) ...; // x [128, 1, 28, 28]
 * ```
 */

export {
  type Augmentation,
  augmentViews,
  type CropBox,
  compose,
  cropResize,
  gaussianNoise,
  horizontalFlip,
  type RandomErasingOptions,
  type RandomResizedCropOptions,
  randomErasing,
  randomResizedCrop,
  sslAugmentation,
} from './augment.js';
export {
  type Batch,
  type Dataset,
  ImageDataset,
  type ImageDatasetOptions,
  splitValidation,
  subset,
  TensorDataset,
  type ValidationSplitOptions,
} from './dataset.js';
export { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, type IdxArray, parseIdx, readIdx, readMaybeGzip } from './idx.js';
export { DataLoader, type DataLoaderOptions, type LoaderBatch, type LoaderState } from './loader.js';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, loadFashionMnist, loadMnistDir, type MnistData, resolveDataDir } from './mnist.js';
export { indexSeed, permutation } from './random.js';
export { gaussianMixture, type LabelledSet, randomLabels, type SyntheticOptions, twoSpirals } from './synthetic.js';
