/**
 * @normkit/theory — the theory of the normalization papers as calculators whose every answer is
 * checked by construction: approximation widths with the networks behind them (built as
 * `@normkit/graph` models and verified), the LN-Net construction and VC bound, LN's nonlinearity
 * (stationary points, SSR/LSSR), whitening spectra (IterNorm, INTL, spectral transformation) and the
 * foldability identities.
 *
 * @example
 * ```ts
 * import { plnWidth, lnNet } from '@normkit/theory';
 * plnWidth({ lipschitz: 1, epsilon: 0.05, activation: 'pln2' }); // { width: 18, supError: 0.0492, verified: true, … }
 * lnNet({ points: 16, dim: 2, seed: 0 });                          // { depth, width: 3, accuracy: 1, … }
 * ```
 */
export {
  type Activation,
  type ApproximationCheck,
  type Approximator,
  type ApproximatorOptions,
  approximationWidth,
  buildApproximator,
  defaultTarget,
  type PlnWidthInput,
  type PlnWidthResult,
  plnWidth,
  staircaseWidth,
  type VerifyOptions,
  verifyApproximator,
  type WidthBound,
  type WidthOptions,
} from './approximation.js';
export {
  centeringMatrix,
  columnCenter,
  type FoldIdentityOptions,
  foldIdentityResidual,
  isColumnCentered,
} from './centering.js';
export { type Array64, evaluateGraph64, executeGraph64, maxAbsDiff } from './evaluate.js';
export { identity64, type Matrix, matMul64, symmetricEigen64, transpose64 } from './linalg64.js';
export { layerNorm64, parallelNorm64, rmsNorm64 } from './ln.js';
export {
  buildLnNet,
  type LabelledPoints,
  type LnNet,
  type LnNetInput,
  type LnNetOptions,
  lnNet,
  lnNetDepthBound,
  lnNetVcLowerBound,
  randomLabelledPoints,
  shatter,
  verifyLnNet,
} from './lnnet.js';
export {
  countStationaryPoints,
  lssr,
  lssrByGroupSize,
  type ScalarLnNet,
  scalarLnNet,
  singleLnStationaryPoints,
  ssr,
} from './nonlinearity.js';
export {
  type IterNormIterationsOptions,
  intlBeta,
  iterNormEigenvalueMap,
  iterNormIterations,
  iterNormMatrix,
  iterNormOutput,
  spectralTransform,
  spectralTransformSpectrum,
} from './whitening.js';
