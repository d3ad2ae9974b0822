import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared test data folder (outside the repo). */
export const TESTDATA = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));

/** Every `.onnx` file under `dir`, sorted. */
export function findModels(dir: string = TESTDATA): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else if (e.endsWith('.onnx')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

import { createHash } from 'node:crypto';
import { Graph, Model } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import { OpaqueTensor, onnxTensorInfo } from '../src/index.js';

/**
 * A plain-object view of a model for structural comparison: tensors become dtype, shape, ONNX origin
 * and a hash of their bytes (deep-comparing megabytes of typed arrays element by element is slow).
 */
export function canon(x: unknown): unknown {
  if (x instanceof Tensor) {
    const origin = onnxTensorInfo(x);
    if (x instanceof OpaqueTensor) return { opaque: canon(x.opaque), shape: [...x.shape], origin: canon(origin) };
    const d = x.data;
    const hash = createHash('sha1')
      .update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
      .digest('hex');
    return { dtype: x.dtype, shape: [...x.shape], hash, origin: canon(origin) };
  }
  if (x instanceof Uint8Array) return `bytes:${Buffer.from(x).toString('base64')}`;
  if (x instanceof Map) return [...x].map(([k, v]) => [k, canon(v)]);
  if (x instanceof Set) return [...x].sort();
  if (Array.isArray(x)) return x.map(canon);
  if (x instanceof Graph || x instanceof Model || (x && typeof x === 'object')) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x as object)) if (v !== undefined) o[k] = canon(v);
    return o;
  }
  return x;
}
