import { EINSUM_OPS } from './einsum.js';
import { CONTROL_OPS } from './ops-control.js';
import { CONV_TRANSPOSE_OPS } from './ops-conv-transpose.js';
import { ELEMENTWISE_OPS } from './ops-elementwise.js';
import { LLM_OPS } from './ops-llm.js';
import { MICROSOFT_OPS } from './ops-microsoft.js';
import { MISC_OPS } from './ops-misc.js';
import { NN_OPS } from './ops-nn.js';
import { NORM_OPS } from './ops-norm.js';
import { QUANT_OPS } from './ops-quant.js';
import { RANDOM_OPS } from './ops-random.js';
import { RESIZE_OPS } from './ops-resize.js';
import { SELECT_OPS } from './ops-select.js';
import { SHAPE_OPS } from './ops-shape.js';
import { VISION_OPS } from './ops-vision.js';

/**
 * The op modules, referenced so that bundlers keep them (each registers its kernels when loaded).
 * @example ops.includes(SHAPE_OPS) // true
 */
export const ops: readonly string[] = [
  ELEMENTWISE_OPS,
  NN_OPS,
  NORM_OPS,
  SHAPE_OPS,
  MISC_OPS,
  MICROSOFT_OPS,
  RESIZE_OPS,
  EINSUM_OPS,
  CONV_TRANSPOSE_OPS,
  CONTROL_OPS,
  SELECT_OPS,
  RANDOM_OPS,
  VISION_OPS,
  QUANT_OPS,
  LLM_OPS,
];
