/**
 * Matmul, Gemm, convolution and pooling kernels. One thread per output element; the reduction
 * over K runs in tiles of 4 (unrolled) with operand base offsets hoisted out of the loop. Fragment
 * shaders have no shared memory, so the tiling is over registers, not workgroup memory.
 */
import type { ConvOptions, PoolOptions } from '@normkit/tensor';
import { sizeOf, stridesOf } from '@normkit/tensor';
import { type Code, lit, type OperandInfo, par } from './codegen.js';
import type { GpuBuffer, GpuDevice, Operand } from './device.js';
import { loops } from './reduce.js';

const TILE = 4;

/** Flat offset expression of an unchunked operand at `idx`. */
function flat(op: OperandInfo, idx: readonly string[]): string {
  const strides = stridesOf(op.shape);
  const terms: string[] = [];
  op.shape.forEach((d, i) => {
    if (d > 1 && idx[i] !== '0')
      terms.push((strides[i] as number) === 1 ? par(idx[i] as string) : `${par(idx[i] as string)} * ${strides[i]}`);
  });
  if (op.offset) terms.push(`${op.offset}`);
  return terms.join(' + ') || '0';
}

/**
 * Emits Σ_k A(idxA(k)) · B(idxB(k)) for k in [0, K); `kAxisA`/`kAxisB` say which index of each
 * operand carries k (the others must not depend on k).
 */
function dot(
  code: Code,
  A: OperandInfo,
  idxA: string[],
  kAxisA: number,
  B: OperandInfo,
  idxB: string[],
  kAxisB: number,
  K: number,
): string {
  const acc = code.v('s');
  code.push(`let ${acc} = 0.0;`);
  const fast = A.layout.nChunks === 1 && B.layout.nChunks === 1;
  if (fast) {
    const sa = stridesOf(A.shape)[kAxisA] as number;
    const sb = stridesOf(B.shape)[kAxisB] as number;
    const aBase = code.let(
      flat(
        A,
        idxA.map((e, i) => (i === kAxisA ? '0' : e)),
      ),
      'ab',
    );
    const bBase = code.let(
      flat(
        B,
        idxB.map((e, i) => (i === kAxisB ? '0' : e)),
      ),
      'bb',
    );
    const at = (name: string, base: string, stride: number, k: string) =>
      `${name}_0[${base} + ${stride === 1 ? k : `${par(k)} * ${stride}`}]`;
    const K4 = Math.floor(K / TILE);
    if (K4 > 0) {
      const kb = code.v('kb');
      code.push(`for (let ${kb} = 0; ${kb} < ${K4}; ${kb}++) {`);
      const k0 = code.let(`${kb} * ${TILE}`, 'k');
      const terms = Array.from({ length: TILE }, (_, u) => {
        const k = u === 0 ? k0 : `${k0} + ${u}`;
        return `${at(A.name, aBase, sa, k)} * ${at(B.name, bBase, sb, k)}`;
      });
      code.push(`${acc} += ${terms.join(' + ')};`);
      code.push('}');
    }
    for (let k = K4 * TILE; k < K; k++) code.push(`${acc} += ${at(A.name, aBase, sa, `${k}`)} * ${at(B.name, bBase, sb, `${k}`)};`);
    return acc;
  }
  loops(code, [K], ([k]) => {
    const a = code.read(
      A,
      idxA.map((e, i) => (i === kAxisA ? (k as string) : e)),
    );
    const b = code.read(
      B,
      idxB.map((e, i) => (i === kAxisB ? (k as string) : e)),
    );
    code.push(`${acc} += ${a} * ${b};`);
  });
  return acc;
}

/** Batched matmul a [..., M, K] · b [..., K, N] with broadcast batch dims into `outShape` [...batch, M, N]. */
export function matmulKernel(dev: GpuDevice, a: Operand, b: Operand, outShape: readonly number[]): GpuBuffer {
  const K = a.shape[a.shape.length - 1] as number;
  const [M, N] = outShape.slice(-2) as [number, number];
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = outShape.slice(0, -2);
  // A batch of rows against one shared B is one [nb·M, K] · [K, N] product.
  let A = a;
  let run = outShape;
  if (sizeOf(batchB) === 1 && sizeOf(batchA) === sizeOf(batch) && a.buffer.layout.nChunks === 1) {
    A = { shape: [sizeOf(batch) * M, K], buffer: a.buffer };
    run = [sizeOf(batch) * M, N];
  }
  const B: Operand = sizeOf(batchB) === 1 ? { shape: [K, N], buffer: b.buffer } : b;
  const [buffer] = dev.launch(run, [A, B], (code, o, [OA, OB]) => {
    const r = run.length;
    const bIdx = o.slice(0, r - 2);
    const m = o[r - 2] as string;
    const n = o[r - 1] as string;
    const bcast = (op: OperandInfo) =>
      op.shape.slice(0, -2).map((d, i, arr) => (d === 1 ? '0' : (bIdx[i + bIdx.length - arr.length] as string)));
    const ia = [...bcast(OA as OperandInfo), m, 'k'];
    const ib = [...bcast(OB as OperandInfo), 'k', n];
    return dot(code, OA as OperandInfo, ia, ia.length - 1, OB as OperandInfo, ib, ib.length - 2, K);
  });
  return buffer as GpuBuffer;
}

/** ONNX Gemm: α·op(A)·op(B) + β·C into `outShape` [M, N]. */
export function gemmKernel(
  dev: GpuDevice,
  a: Operand,
  b: Operand,
  c: Operand | undefined,
  o: Required<{ alpha: number; beta: number; transA: boolean; transB: boolean }>,
  outShape: readonly number[],
): GpuBuffer {
  const K = (o.transA ? a.shape[0] : a.shape[1]) as number;
  const useC = c !== undefined && o.beta !== 0;
  const ops = useC ? [a, b, c as Operand] : [a, b];
  const [buffer] = dev.launch(outShape, ops, (code, [m, n], infos) => {
    const [OA, OB, OC] = infos as [OperandInfo, OperandInfo, OperandInfo | undefined];
    const ia = o.transA ? ['k', m as string] : [m as string, 'k'];
    const ib = o.transB ? [n as string, 'k'] : ['k', n as string];
    const s = dot(code, OA, ia, o.transA ? 0 : 1, OB, ib, o.transB ? 1 : 0, K);
    let expr = o.alpha === 1 ? s : `${lit(o.alpha)} * ${s}`;
    if (useC && OC) {
      const off = 2 - OC.shape.length;
      const ic = OC.shape.map((d, i) => (d === 1 ? '0' : ([m, n][i + off] as string)));
      const cv = code.read(OC, ic);
      expr = `${expr} + ${o.beta === 1 ? cv : `${lit(o.beta)} * ${cv}`}`;
    }
    return expr;
  });
  return buffer as GpuBuffer;
}

/** Direct N-d convolution into `shape` [N, Cout, ...]: each thread loops over Cin/group × kernel taps, skipping padding. */
export function convKernel(
  dev: GpuDevice,
  x: Operand,
  w: Operand,
  bias: Operand | undefined,
  o: Required<ConvOptions>,
  shape: readonly number[],
): GpuBuffer {
  const sp = x.shape.length - 2;
  const Cout = w.shape[0] as number;
  const Cg = w.shape[1] as number;
  const Coutg = Cout / o.group;
  const inSp = x.shape.slice(2);
  const kSp = w.shape.slice(2);
  const ops = bias ? [x, w, { shape: [Cout], buffer: bias.buffer }] : [x, w];
  const [buffer] = dev.launch(shape, ops, (code, out, infos) => {
    const [X, W, Bs] = infos as [OperandInfo, OperandInfo, OperandInfo | undefined];
    const n = out[0] as string;
    const co = out[1] as string;
    const acc = code.v('s');
    code.push(`let ${acc} = ${Bs ? code.read(Bs, [co]) : '0.0'};`);
    const g = o.group === 1 ? '0' : code.floorDiv(co, Coutg);
    loops(code, [Cg, ...kSp], ([ci, ...ks]) => {
      let depth = 0;
      const pos: string[] = [];
      for (let d = 0; d < sp; d++) {
        const p = code.let(`${out[2 + d]} * ${o.strides[d]} - ${o.pads[d]} + ${ks[d]} * ${o.dilations[d]}`, 'p');
        code.push(`if (${p} >= 0) { if (${p} < ${inSp[d]}) {`);
        depth += 2;
        pos.push(p);
      }
      const cin = o.group === 1 ? (ci as string) : `${g} * ${Cg} + ${ci}`;
      const xv = code.read(X, [n, cin, ...pos]);
      const wv = code.read(W, [co, ci as string, ...(ks as string[])]);
      code.push(`${acc} += ${xv} * ${wv};`);
      for (let i = 0; i < depth; i++) code.push('}');
    });
    return acc;
  });
  return buffer as GpuBuffer;
}

/** Max or average pooling into `shape` [N, C, ...] (ONNX rules for ceil mode and count_include_pad, as the CPU backend). */
export function poolKernel(dev: GpuDevice, kind: 'max' | 'avg', x: Operand, o: Required<PoolOptions>, shape: readonly number[]): GpuBuffer {
  const sp = x.shape.length - 2;
  const inSp = x.shape.slice(2);
  const kSp = o.kernelShape;
  const [buffer] = dev.launch(shape, [x], (code, out, [X]) => {
    const acc = code.let(kind === 'max' ? '-3.4028234663852886e38' : '0.0', 's');
    const cnt = code.let('0.0', 'n');
    const padCnt = code.let('0.0', 'np');
    loops(code, kSp, (ks) => {
      const pos: string[] = [];
      const inPad = code.let('1.0', 'ip');
      const valid = code.let('1.0', 'va');
      for (let d = 0; d < sp; d++) {
        const p = code.let(`${out[2 + d]} * ${o.strides[d]} - ${o.pads[d]} + ${ks[d]} * ${o.dilations[d]}`, 'p');
        code.push(`if (${p} < ${-(o.pads[d] as number)}) { ${inPad} = 0.0; }`);
        code.push(`if (${p} >= ${(inSp[d] as number) + (o.pads[d + sp] as number)}) { ${inPad} = 0.0; }`);
        code.push(`if (${p} < 0) { ${valid} = 0.0; }`);
        code.push(`if (${p} >= ${inSp[d]}) { ${valid} = 0.0; }`);
        pos.push(p);
      }
      code.push(`${padCnt} += ${inPad};`);
      code.push(`if (${valid} > 0.5) {`);
      const v = code.read(X as OperandInfo, [out[0] as string, out[1] as string, ...pos]);
      code.push(kind === 'max' ? `${acc} = Math.max(${acc}, ${v});` : `${acc} += ${v};`);
      code.push(`${cnt} += 1.0;`);
      code.push('}');
    });
    if (kind === 'max') return acc;
    return o.countIncludePad ? `(${acc} / ${padCnt})` : `(${acc} / Math.max(${cnt}, 1.0))`;
  });
  return buffer as GpuBuffer;
}
