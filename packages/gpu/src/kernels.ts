/**
 * The device kernels of the `Backend` methods, as one table: for each method, when it can run on the
 * device, its output shape (from @normkit/tensor's shape functions, the rule the op layer and the CPU
 * kernels use), its dtype and the launch. `GpuBackend` turns each entry into its method with one
 * dispatcher, which falls back to the CPU backend's method of the same name.
 */
import {
  type Backend,
  concatShape,
  convShape,
  type DType,
  gatherShape,
  gemmShape,
  matmulShape,
  padShape,
  poolShape,
  reduceShape,
  type Tensor,
  tileShape,
  transposeShape,
} from '@normkit/tensor';
import type { GpuBuffer, GpuDevice, Operand } from './device.js';
import { BOOL_BINARY, binaryCode, unaryCode, unaryParamCode } from './elementwise.js';
import { convKernel, gemmKernel, matmulKernel, poolKernel } from './linear.js';
import { concatKernel, expandKernel, gatherKernel, padKernel, sliceKernel, tileKernel, transposeKernel } from './movement.js';
import { normKernel, reduceKernel, softmaxKernel } from './reduce.js';

/** dtypes that live on the device (float32 data, bool masks stored as 0/1). */
export const DEVICE_DTYPES = new Set<DType>(['float32', 'bool']);

/** What a kernel's launch may use of the backend. */
export interface KernelHost {
  readonly device: GpuDevice;
  /** `x` as a device operand (uploaded when on the host). */
  op(x: Tensor): Operand;
  /** Gather indices as non-negative float32 values (cached per index array). */
  indices(indices: Tensor, dim: number): Tensor;
}

/** The `Backend` methods the table covers (single-output kernels). */
export type TableMethod =
  | 'unary'
  | 'unaryParam'
  | 'binary'
  | 'where'
  | 'reduce'
  | 'argReduce'
  | 'softmax'
  | 'matmul'
  | 'gemm'
  | 'conv'
  | 'pool'
  | 'transpose'
  | 'concat'
  | 'slice'
  | 'pad'
  | 'gather'
  | 'expand'
  | 'tile'
  | 'cast'
  | 'rmsNorm';
export type KernelArgs<K extends TableMethod> = Parameters<Backend[K]>;

/** One method as a device kernel. An output of zero elements never launches (the CPU backend runs it). */
export interface KernelSpec<K extends TableMethod> {
  /** The name CPU fallbacks are counted under in `describe().fallbacks`. */
  label: (...a: KernelArgs<K>) => string;
  /** Whether the inputs can run on the device (dtypes, sizes); the output shape is checked apart. */
  eligible: (...a: KernelArgs<K>) => boolean;
  shape: (...a: KernelArgs<K>) => readonly number[];
  /** The output dtype; absent: that of the first tensor argument. */
  dtype?: (...a: KernelArgs<K>) => DType;
  launch: (h: KernelHost, shape: readonly number[], ...a: KernelArgs<K>) => GpuBuffer;
}

/** Every tensor is float32 and non-empty (undefined optional inputs pass). */
export const isF32 = (...xs: (Tensor | undefined)[]): boolean => xs.every((x) => x === undefined || (x.dtype === 'float32' && x.size > 0));
/** Every tensor is in a device dtype and non-empty. */
const onDevice = (...xs: (Tensor | undefined)[]): boolean => xs.every((x) => x === undefined || (DEVICE_DTYPES.has(x.dtype) && x.size > 0));
const opt = (h: KernelHost, x: Tensor | undefined) => (x ? h.op(x) : undefined);
/** A single-launch kernel's only output. */
const first = (b: GpuBuffer[]) => b[0] as GpuBuffer;

/** Index expressions for an operand of `shape` broadcast to `outShape`. */
function bcast(o: readonly string[], outShape: readonly number[], shape: readonly number[]): string[] {
  const off = outShape.length - shape.length;
  return shape.map((d, i) => (d === 1 ? '0' : (o[i + off] as string)));
}

const ELEMENTWISE: { [K in 'unary' | 'unaryParam' | 'binary' | 'where' | 'cast']: KernelSpec<K> } = {
  unary: {
    label: (op) => `unary ${op}`,
    eligible: (op, x) => (op === 'not' ? x.dtype === 'bool' && x.size > 0 : isF32(x)),
    shape: (_, x) => x.shape,
    launch: (h, s, op, x) => first(h.device.launch(s, [h.op(x)], (code, o, [X]) => unaryCode(code, op, code.read(X!, o)))),
  },
  unaryParam: {
    label: (p) => `unary ${p.op}`,
    eligible: (_, x) => isF32(x),
    shape: (_, x) => x.shape,
    launch: (h, s, p, x) => first(h.device.launch(s, [h.op(x)], (code, o, [X]) => unaryParamCode(code, p, code.read(X!, o)))),
  },
  binary: {
    label: (op) => `binary ${op}`,
    eligible: (op, a, b) => isF32(a, b) || (a.dtype === 'bool' && b.dtype === 'bool' && ['and', 'or', 'xor', 'equal'].includes(op)),
    shape: (_o, _a, _b, outShape) => outShape,
    dtype: (op, a) => (BOOL_BINARY.has(op) ? 'bool' : a.dtype),
    launch: (h, s, op, a, b) =>
      first(
        h.device.launch(s, [h.op(a), h.op(b)], (code, o, [A, B]) =>
          binaryCode(code, op, code.read(A!, bcast(o, s, a.shape)), code.read(B!, bcast(o, s, b.shape))),
        ),
      ),
  },
  where: {
    label: () => 'where',
    eligible: (cond, a, b) => onDevice(cond, a, b),
    shape: (_c, _a, _b, outShape) => outShape,
    dtype: (_, a) => a.dtype,
    launch: (h, s, cond, a, b) =>
      first(
        h.device.launch(s, [h.op(cond), h.op(a), h.op(b)], (code, o, [C, A, B]) => {
          const r = code.let('0.0', 'w');
          code.push(`if (${code.read(C!, bcast(o, s, cond.shape))} != 0.0) {`);
          code.push(`${r} = ${code.read(A!, bcast(o, s, a.shape))};`);
          code.push('} else {');
          code.push(`${r} = ${code.read(B!, bcast(o, s, b.shape))};`);
          code.push('}');
          return r;
        }),
      ),
  },
  cast: {
    label: (x, dtype) => `cast ${x.dtype}->${dtype}`,
    eligible: (x, dtype) => onDevice(x) && DEVICE_DTYPES.has(dtype),
    shape: (x) => x.shape,
    dtype: (_, dtype) => dtype,
    launch: (h, s, _x, dtype) =>
      first(
        h.device.launch(s, [h.op(_x)], (code, o, [X]) => {
          const v = code.read(X!, o);
          if (dtype !== 'bool') return v;
          const r = code.let('0.0', 'b');
          code.push(`if (${v} != 0.0) { ${r} = 1.0; }`);
          return r;
        }),
      ),
  },
};

const REDUCTIONS: { [K in 'reduce' | 'argReduce' | 'softmax' | 'rmsNorm']: KernelSpec<K> } = {
  reduce: {
    label: (op) => `reduce ${op}`,
    eligible: (_, x) => isF32(x),
    shape: (_, x, axes, keepDims) => reduceShape(x.shape, axes, keepDims),
    launch: (h, _s, op, x, axes) => reduceKernel(h.device, op, h.op(x), axes),
  },
  argReduce: {
    label: (op) => op,
    eligible: () => false, // int64 indices: the device holds float32 only
    shape: (_, x, axis, keepDims) => reduceShape(x.shape, [axis], keepDims),
    launch: () => {
      throw new Error('argReduce has no device kernel');
    },
  },
  softmax: {
    label: (_, _a, log) => (log ? 'logSoftmax' : 'softmax'),
    eligible: (x) => isF32(x),
    shape: (x) => x.shape,
    launch: (h, _s, x, axis, log) => softmaxKernel(h.device, h.op(x), axis, log),
  },
  rmsNorm: {
    label: () => 'rmsNorm',
    eligible: (x, scale, bias) => isF32(x, scale, bias),
    shape: (x) => x.shape,
    launch: (h, _s, x, scale, bias, axis, eps) => normKernel(h.device, h.op(x), opt(h, scale), opt(h, bias), axis, eps, false).y,
  },
};

const LINEAR: { [K in 'matmul' | 'gemm' | 'conv' | 'pool']: KernelSpec<K> } = {
  matmul: {
    label: () => 'matmul',
    eligible: (a, b) => isF32(a, b) && (a.shape[a.rank - 1] as number) > 0,
    shape: (a, b) => matmulShape(a.shape, b.shape),
    launch: (h, s, a, b) => matmulKernel(h.device, h.op(a), h.op(b), s),
  },
  gemm: {
    label: () => 'gemm',
    eligible: (a, b, c) => isF32(a, b, c),
    shape: (a, b, _c, o) => gemmShape(a.shape, b.shape, o),
    launch: (h, s, a, b, c, o) => gemmKernel(h.device, h.op(a), h.op(b), opt(h, c), o, s),
  },
  conv: {
    label: () => 'conv',
    eligible: (x, w, bias) => isF32(x, w, bias),
    shape: (x, w, _b, o) => convShape(x.shape, w.shape, o),
    launch: (h, s, x, w, bias, o) => convKernel(h.device, h.op(x), h.op(w), opt(h, bias), o, s),
  },
  pool: {
    label: (kind) => `${kind}Pool`,
    eligible: (_, x) => isF32(x),
    shape: (_, x, o) => poolShape(x.shape, o),
    launch: (h, s, kind, x, o) => poolKernel(h.device, kind, h.op(x), o, s),
  },
};

const MOVEMENT: { [K in 'transpose' | 'concat' | 'slice' | 'pad' | 'gather' | 'expand' | 'tile']: KernelSpec<K> } = {
  transpose: {
    label: () => 'transpose',
    eligible: (x) => onDevice(x),
    shape: (x, perm) => transposeShape(x.shape, perm),
    launch: (h, s, x, perm) => transposeKernel(h.device, h.op(x), perm, s),
  },
  concat: {
    label: () => 'concat',
    eligible: (xs) => DEVICE_DTYPES.has((xs[0] as Tensor).dtype),
    shape: (xs, axis) =>
      concatShape(
        xs.map((t) => t.shape),
        axis,
      ),
    dtype: (xs) => (xs[0] as Tensor).dtype,
    // Empty parts add nothing; the output is non-empty, so at least one part is not.
    launch: (h, s, xs, axis) =>
      concatKernel(
        h.device,
        xs.filter((t) => t.size > 0).map((t) => h.op(t)),
        axis,
        s,
      ),
  },
  slice: {
    label: () => 'slice',
    eligible: (x) => onDevice(x),
    shape: (_x, _st, _sp, outShape) => outShape,
    launch: (h, s, x, starts, steps) => sliceKernel(h.device, h.op(x), starts, steps, s),
  },
  pad: {
    label: () => 'pad',
    eligible: (x, pads, _m, value) => onDevice(x) && pads.every((p) => p >= 0) && Number.isFinite(value),
    shape: (x, pads) => padShape(x.shape, pads),
    launch: (h, s, x, pads, mode, value) => padKernel(h.device, h.op(x), pads, mode, value, s),
  },
  gather: {
    label: () => 'gather',
    eligible: (x, indices) => onDevice(x) && indices.size > 0,
    shape: (x, indices, axis) => gatherShape(x.shape, indices.shape, axis),
    launch: (h, s, x, indices, axis) => gatherKernel(h.device, h.op(x), h.op(h.indices(indices, x.shape[axis] as number)), axis, s),
  },
  expand: {
    label: () => 'expand',
    eligible: (x) => onDevice(x),
    shape: (_, outShape) => outShape,
    launch: (h, s, x) => expandKernel(h.device, h.op(x), s),
  },
  tile: {
    label: () => 'tile',
    eligible: (x) => onDevice(x),
    shape: (x, repeats) => tileShape(x.shape, repeats),
    launch: (h, s, x, repeats) => tileKernel(h.device, h.op(x), repeats, s),
  },
};

/** The table: every single-output `Backend` method of the gpu backend. */
export const KERNELS: { [K in TableMethod]: KernelSpec<K> } = { ...ELEMENTWISE, ...REDUCTIONS, ...LINEAR, ...MOVEMENT };
