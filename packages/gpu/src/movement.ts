/**
 * Data-movement kernels: transpose, concat, slice, pad, gather, expand, tile. Each output element
 * computes where it comes from and reads it (gather-style), so none needs more than one pass. Every
 * kernel takes its output shape from the caller (the backend reads it from @normkit/tensor's shape
 * functions) instead of recomputing it.
 */
import { lit, type OperandInfo } from './codegen.js';
import type { GpuBuffer, GpuDevice, Operand } from './device.js';

export function transposeKernel(dev: GpuDevice, x: Operand, perm: readonly number[], outShape: readonly number[]): GpuBuffer {
  const [b] = dev.launch(outShape, [x], (code, o, [X]) => {
    const idx = new Array<string>(perm.length);
    perm.forEach((p, i) => {
      idx[p] = o[i] as string;
    });
    return code.read(X as OperandInfo, idx);
  });
  return b as GpuBuffer;
}

export function concatKernel(dev: GpuDevice, xs: readonly Operand[], axis: number, outShape: readonly number[]): GpuBuffer {
  const [b] = dev.launch(outShape, xs, (code, o, infos) => {
    const val = code.let('0.0', 'cv');
    let start = 0;
    infos.forEach((info, i) => {
      const len = info.shape[axis] as number;
      const last = i === infos.length - 1;
      code.push(i === 0 ? `if (${o[axis]} < ${start + len}) {` : last ? '} else {' : `} else if (${o[axis]} < ${start + len}) {`);
      const idx = [...o];
      idx[axis] = start === 0 ? (o[axis] as string) : `${o[axis]} - ${start}`;
      code.push(`${val} = ${code.read(info, idx)};`);
      start += len;
    });
    code.push('}');
    return val;
  });
  return b as GpuBuffer;
}

export function sliceKernel(
  dev: GpuDevice,
  x: Operand,
  starts: readonly number[],
  steps: readonly number[],
  outShape: readonly number[],
): GpuBuffer {
  const [b] = dev.launch(outShape, [x], (code, o, [X]) =>
    code.read(
      X as OperandInfo,
      o.map((e, d) => {
        const s = starts[d] as number;
        const st = steps[d] as number;
        if ((x.shape[d] as number) === 1) return '0';
        if (st === 1) return s === 0 ? e : `${e} + ${s}`;
        return `${s} + ${e} * ${st}`;
      }),
    ),
  );
  return b as GpuBuffer;
}

export function padKernel(
  dev: GpuDevice,
  x: Operand,
  pads: readonly number[],
  mode: 'constant' | 'reflect' | 'edge',
  value: number,
  shape: readonly number[],
): GpuBuffer {
  const r = x.shape.length;
  const [b] = dev.launch(shape, [x], (code, o, [X]) => {
    const inside = code.let('1.0', 'in');
    const idx: string[] = [];
    for (let d = 0; d < r; d++) {
      const dim = x.shape[d] as number;
      const i = code.let(`${o[d]} - ${pads[d]}`, 'i');
      if (mode === 'constant') {
        code.push(`if (${i} < 0.0) { ${inside} = 0.0; ${i} = 0.0; }`);
        code.push(`if (${i} >= ${lit(dim)}) { ${inside} = 0.0; ${i} = 0.0; }`);
      } else if (mode === 'edge') {
        code.push(`${i} = Math.min(Math.max(${i}, 0.0), ${lit(dim - 1)});`);
      } else {
        const period = 2 * (dim - 1);
        if (period === 0) code.push(`${i} = 0.0;`);
        else {
          // ((i mod period) + period) mod period, then fold the upper half back.
          code.push(`${i} = ${i} - Math.floor(${i} / ${period}) * ${period};`);
          code.push(`if (${i} < 0) { ${i} = ${i} + ${period}; }`);
          code.push(`if (${i} >= ${period}) { ${i} = ${i} - ${period}; }`);
          code.push(`if (${i} >= ${dim}) { ${i} = ${period} - ${i}; }`);
        }
      }
      idx.push(i);
    }
    const v = code.read(X as OperandInfo, idx);
    if (mode !== 'constant') return v;
    const pv = code.let(lit(value), 'pv');
    code.push(`if (${inside} > 0.5) { ${pv} = ${v}; }`);
    return pv;
  });
  return b as GpuBuffer;
}

/** Gather along `axis`; `indices` holds already-normalized (non-negative) indices as floats. */
export function gatherKernel(dev: GpuDevice, x: Operand, indices: Operand, axis: number, shape: readonly number[]): GpuBuffer {
  const ri = indices.shape.length;
  const [b] = dev.launch(shape, [x, indices], (code, o, [X, I]) => {
    const k = code.read(I as OperandInfo, ri === 0 ? [] : o.slice(axis, axis + ri));
    const kv = code.let(`Math.floor(${k} + 0.5)`, 'g');
    return code.read(X as OperandInfo, [...o.slice(0, axis), kv, ...o.slice(axis + ri)]);
  });
  return b as GpuBuffer;
}

export function expandKernel(dev: GpuDevice, x: Operand, outShape: readonly number[]): GpuBuffer {
  const off = outShape.length - x.shape.length;
  const [b] = dev.launch(outShape, [x], (code, o, [X]) =>
    code.read(
      X as OperandInfo,
      x.shape.map((d, i) => (d === 1 ? '0' : (o[i + off] as string))),
    ),
  );
  return b as GpuBuffer;
}

export function tileKernel(dev: GpuDevice, x: Operand, repeats: readonly number[], shape: readonly number[]): GpuBuffer {
  const [b] = dev.launch(shape, [x], (code, o, [X]) =>
    code.read(
      X as OperandInfo,
      x.shape.map((d, i) => {
        if (d === 1) return '0';
        if ((repeats[i] as number) === 1) return o[i] as string;
        const q = code.floorDiv(o[i] as string, d);
        return code.let(`${o[i]} - ${q} * ${d}`, 'm');
      }),
    ),
  );
  return b as GpuBuffer;
}
