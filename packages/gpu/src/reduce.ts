/**
 * Reductions, softmax, LayerNorm and RMSNorm kernels. One thread per output row loops over the
 * reduced elements (float32 accumulation); normalizations run a statistics kernel then an apply
 * kernel, the statistics staying on the device between them.
 */
import type { ReduceOp } from '@normkit/tensor';
import { broadcastShapes, sizeOf } from '@normkit/tensor';
import { type Code, lit, type OperandInfo } from './codegen.js';
import type { GpuBuffer, GpuDevice, Operand } from './device.js';

/** Emits nested literal-bounded loops over `dims`, calling `inner(indices)` in the innermost body. */
export function loops(code: Code, dims: readonly number[], inner: (idx: string[]) => void): void {
  const idx: string[] = [];
  for (const d of dims) {
    const k = code.v('k');
    code.push(`for (let ${k} = 0; ${k} < ${d}; ${k}++) {`);
    idx.push(k);
  }
  inner(idx);
  for (let i = 0; i < dims.length; i++) code.push('}');
}

/** Reduce `x` over sorted `axes`; output shape with kept dims (keepDims handled by the caller's reshape). */
export function reduceKernel(dev: GpuDevice, op: ReduceOp, x: Operand, axes: readonly number[]): GpuBuffer {
  const shape = x.shape;
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const redDims = axes.map((a) => shape[a] as number);
  const n = sizeOf(redDims);
  const [buf] = dev.launch(keptShape, [x], (code, o, [X]) => {
    const at = (r: string[]) => {
      const idx = [...o];
      axes.forEach((a, j) => {
        idx[a] = r[j] as string;
      });
      return code.read(X as OperandInfo, idx);
    };
    const acc = code.v('s');
    if (op === 'max' || op === 'min') {
      code.push(`let ${acc} = 0.0;`);
      const first = at(redDims.map(() => '0'));
      code.push(`${acc} = ${first};`);
      loops(code, redDims, (r) => {
        const v = at(r);
        code.push(`${acc} = Math.${op}(${acc}, ${v});`);
      });
      return acc;
    }
    if (op === 'logSumExp') {
      const m = code.v('m');
      code.push(`let ${m} = 0.0;`);
      code.push(`${m} = ${at(redDims.map(() => '0'))};`);
      loops(code, redDims, (r) => code.push(`${m} = Math.max(${m}, ${at(r)});`));
      code.push(`let ${acc} = 0.0;`);
      loops(code, redDims, (r) => code.push(`${acc} += Math.exp(${at(r)} - ${m});`));
      return `(${m} + Math.log(${acc}))`;
    }
    code.push(`let ${acc} = ${op === 'prod' ? '1.0' : '0.0'};`);
    loops(code, redDims, (r) => {
      const v = at(r);
      switch (op) {
        case 'sum':
        case 'mean':
          code.push(`${acc} += ${v};`);
          break;
        case 'sumSquare':
        case 'l2':
          code.push(`${acc} += ${v} * ${v};`);
          break;
        case 'l1':
          code.push(`${acc} += Math.abs(${v});`);
          break;
        case 'prod':
          code.push(`${acc} = ${acc} * ${v};`);
          break;
      }
    });
    if (op === 'mean') return `(${acc} / ${lit(n)})`;
    if (op === 'l2') return `Math.sqrt(${acc})`;
    return acc;
  });
  return buf as GpuBuffer;
}

/** View of x as [outer, red, inner] around `axis`. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis] as number, sizeOf(shape.slice(axis + 1))];
}

/** Softmax / log-softmax along `axis`: a log-sum-exp kernel per row, then the elementwise apply. */
export function softmaxKernel(dev: GpuDevice, x: Operand, axis: number, log: boolean): GpuBuffer {
  const [outer, red, inner] = around(x.shape, axis);
  const x3: Operand = { shape: [outer, red, inner], buffer: x.buffer };
  const [lse] = dev.launch([outer, 1, inner], [x3], (code, o, [X]) => {
    const m = code.v('m');
    code.push(`let ${m} = 0.0;`);
    code.push(`${m} = ${code.read(X as OperandInfo, [o[0] as string, '0', o[2] as string])};`);
    loops(code, [red], ([r]) =>
      code.push(`${m} = Math.max(${m}, ${code.read(X as OperandInfo, [o[0] as string, r as string, o[2] as string])});`),
    );
    const s = code.v('s');
    code.push(`let ${s} = 0.0;`);
    loops(code, [red], ([r]) =>
      code.push(`${s} += Math.exp(${code.read(X as OperandInfo, [o[0] as string, r as string, o[2] as string])} - ${m});`),
    );
    return `(${m} + Math.log(${s}))`;
  });
  try {
    const [y] = dev.launch([outer, red, inner], [x3, { shape: [outer, 1, inner], buffer: lse as GpuBuffer }], (code, o, [X, L]) => {
      const v = code.read(X as OperandInfo, o);
      const l = code.read(L as OperandInfo, [o[0] as string, '0', o[2] as string]);
      return log ? `(${v} - ${l})` : `Math.exp(${v} - ${l})`;
    });
    return y as GpuBuffer;
  } finally {
    lse?.release();
  }
}

/** Reads a scale/bias that broadcasts to the normalized block `normShape` at normalized indices `r`. */
function paramShape(p: readonly number[], normShape: readonly number[]): number[] {
  // Drop leading dims beyond the normalized rank (they must be 1), then right-align.
  const tail = p.slice(Math.max(0, p.length - normShape.length));
  broadcastShapes(tail, normShape, 'gpu norm param');
  return tail;
}

function paramIndex(p: readonly number[], normShape: readonly number[], r: readonly string[]): string[] {
  const off = normShape.length - p.length;
  return p.map((d, i) => (d === 1 ? '0' : (r[i + off] as string)));
}

export interface NormBuffers {
  y: GpuBuffer;
  /** LayerNorm only: two references to the statistics buffer ([mean; invStd], 2·rows values), for the mean and invStdDev views. */
  statsRefs?: [GpuBuffer, GpuBuffer];
  rows: number;
}

/**
 * LayerNorm (`center` true) or RMSNorm over axes [axis, rank): a statistics kernel (one thread per
 * row and statistic; two-pass mean/variance for accuracy) and an apply kernel reading the statistics
 * from the device.
 */
export function normKernel(
  dev: GpuDevice,
  x: Operand,
  scale: Operand | undefined,
  bias: Operand | undefined,
  axis: number,
  eps: number,
  center: boolean,
): NormBuffers {
  const normShape = x.shape.slice(axis);
  const d = sizeOf(normShape);
  const rows = sizeOf(x.shape.slice(0, axis));
  const x2: Operand = { shape: [rows, d], buffer: x.buffer };
  // stats[0..rows) = mean (LN only), stats[rows..2rows) = 1/sqrt(var + eps) (LN) or 1/rms (RMS).
  const nStats = center ? 2 : 1;
  const [stats, ...statRefs] = dev.launch(
    [nStats, rows],
    [x2],
    (code, o, [X]) => {
      const row = o[1] as string;
      const mean = code.v('mu');
      code.push(`let ${mean} = 0.0;`);
      if (center) {
        loops(code, [d], ([j]) => code.push(`${mean} += ${code.read(X as OperandInfo, [row, j as string])};`));
        code.push(`${mean} = ${mean} / ${lit(d)};`);
      }
      const ss = code.v('ss');
      code.push(`let ${ss} = 0.0;`);
      loops(code, [d], ([j]) => {
        const v = code.read(X as OperandInfo, [row, j as string]);
        const dv = code.let(`${v} - ${mean}`, 'dv');
        code.push(`${ss} += ${dv} * ${dv};`);
      });
      const inv = code.let(`1.0 / Math.sqrt(${ss} / ${lit(d)} + ${lit(eps)})`, 'iv');
      if (!center) return inv;
      const res = code.let(inv, 'res');
      code.push(`if (${o[0]} < 0.5) { ${res} = ${mean}; }`);
      return res;
    },
    center ? 3 : 1,
  );
  const ops: Operand[] = [x2, { shape: [nStats, rows], buffer: stats as GpuBuffer }];
  const sShape = scale ? paramShape(scale.shape, normShape) : undefined;
  const bShape = bias ? paramShape(bias.shape, normShape) : undefined;
  if (scale && sShape) ops.push({ shape: sShape, buffer: scale.buffer });
  if (bias && bShape) ops.push({ shape: bShape, buffer: bias.buffer });
  let y: GpuBuffer;
  try {
    [y] = dev.launch([rows, ...normShape], ops, (code, o, infos) => {
      const [X, S] = infos as [OperandInfo, OperandInfo];
      const row = o[0] as string;
      const r = o.slice(1);
      // x is addressed as [rows, d]: flatten the normalized indices.
      const strides = normShape.map((_, i) => sizeOf(normShape.slice(i + 1)));
      const j =
        r
          .map((e, i) => (normShape[i] === 1 ? '' : `${e} * ${strides[i]}`))
          .filter(Boolean)
          .join(' + ') || '0';
      const v = code.read(X, [row, j]);
      const inv = code.read(S, [center ? '1' : '0', row]);
      let expr = center ? `(${v} - ${code.read(S, ['0', row])}) * ${inv}` : `${v} * ${inv}`;
      let next = 2;
      if (scale && sShape) expr = `${expr} * ${code.read(infos[next++] as OperandInfo, paramIndex(sShape, normShape, r))}`;
      if (bias && bShape) expr = `${expr} + ${code.read(infos[next++] as OperandInfo, paramIndex(bShape, normShape, r))}`;
      return expr;
    }) as [GpuBuffer];
  } catch (e) {
    for (const b of statRefs) b.release();
    throw e;
  } finally {
    stats?.release();
  }
  return center ? { y, rows, statsRefs: statRefs as [GpuBuffer, GpuBuffer] } : { y, rows };
}
