// float16 models of the ops that transformers.js "q4f16" / "fp16" exports and onnxruntime-genai models
// use, in normkit's executor against onnxruntime-node 1.30. Each case is one node built in float32 with
// inputs that are already float16 values, then turned into a float16 model by rewriting its protobuf
// with onnx-proto (every float tensor, input and output becomes float16; independent of our writer).
//
// Two references, two tolerances:
// - onnxruntime on the float32 model (the same float16 values, computed in float32): normkit computes
//   in float32 and rounds each output to float16 once, so it must be within one float16 step
//   (2^-11 · |y|) of that plus float32 noise (1e-5 · max(1, |y|); 1e-4 where onnxruntime's float32
//   attention sums in another order).
// - onnxruntime on the float16 model: most of its float16 kernels also compute in float32 and round
//   once (measured: identical outputs), but its Gelu approximates and its GroupQueryAttention rounds the
//   rotated Q/K to float16 before the product (measured: 1.7 and 1.8 float16 steps), so the check is
//   within 2 · 2^-11 · max(1, |y|).
import { execute, tagElemType } from '@normkit/graph';
import { Rng, Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../src/index.js';
import { halfBits, halfValue } from './half.js';
import { type AttrValue, type OpInput, opModel } from './op-vs-ort.js';
import { session } from './ort.js';
import { P } from './proto.js';

const FLOAT = 1;
const FLOAT16 = 10;
const STEP = 2 ** -11;

const toHalf = (v: number) => halfValue(halfBits(v));

/** Seeded normals of `shape`, rounded to float16 values (held in float32). */
function halves(shape: number[], seed: number, std = 1): Tensor {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(
    Array.from({ length: n }, () => toHalf(r.normal(0, std))),
    shape,
    'float32',
  );
}

/** The float32 model's bytes with every float32 tensor, input, output and value_info made float16. */
function toFloat16Model(bytes: Uint8Array): Uint8Array {
  const m = P.ModelProto.decode(bytes);
  const g = m.graph as InstanceType<typeof P.GraphProto>;
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) {
    const t = v.type?.tensorType;
    if (t && t.elemType === FLOAT) t.elemType = FLOAT16;
  }
  for (const t of g.initializer) {
    if (t.dataType !== FLOAT) continue;
    const floats = t.floatData ?? [];
    const values = floats.length > 0 ? Array.from(floats) : Array.from(new Float32Array(new Uint8Array(t.rawData ?? []).slice().buffer));
    t.dataType = FLOAT16;
    t.floatData = [];
    t.rawData = new Uint8Array(Uint16Array.from(values, halfBits).buffer);
  }
  return P.ModelProto.encode(m).finish();
}

async function ortRun(bytes: Uint8Array, feeds: Record<string, Tensor>, half: boolean): Promise<Record<string, number[]>> {
  const s = await session(bytes);
  const f: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    const dims = [...t.shape];
    if (t.dtype === 'float32')
      f[k] = half
        ? new ort.Tensor('float16', Uint16Array.from(t.data as Float32Array, halfBits), dims)
        : new ort.Tensor('float32', t.data as Float32Array, dims);
    else if (t.dtype === 'int32') f[k] = new ort.Tensor('int32', t.data as Int32Array, dims);
    else f[k] = new ort.Tensor('int64', t.data as BigInt64Array, dims);
  }
  const out = await s.run(f);
  await s.release();
  const r: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(out))
    r[k] = v.type === 'float16' ? Array.from(v.data as Uint16Array, halfValue) : Array.from(v.data as ArrayLike<number>, Number);
  return r;
}

/** Largest |a − b| / max(1, |b|). */
function worst(a: ArrayLike<number>, b: number[]): number {
  let w = 0;
  for (let i = 0; i < b.length; i++) w = Math.max(w, Math.abs((a[i] as number) - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return w;
}

/**
 * Runs `op` as a float16 model in normkit and onnxruntime and as a float32 model in onnxruntime, and
 * checks the tolerances of the file's header. `noise` is the float32 tolerance.
 */
async function expectHalfMatch(
  op: string,
  inputs: OpInput[],
  attrs: Record<string, AttrValue>,
  opts: { opset?: number; domain?: string; outputs?: number; noise?: number } = {},
): Promise<void> {
  const { model, feeds, outs } = opModel(op, inputs, attrs, {
    opset: opts.opset,
    domain: opts.domain,
    outTypes: Array.from({ length: opts.outputs ?? 1 }, () => 'float32' as const),
  });
  const bytes32 = encodeModel(model);
  const bytes16 = toFloat16Model(bytes32);
  const ref = await ortRun(bytes32, feeds, false);
  const theirs = await ortRun(bytes16, feeds, true);
  const ours = execute(decodeModel(bytes16, { fileName: `${op}-fp16.onnx` }), feeds).outputs as Record<string, Tensor>;
  const noise = opts.noise ?? 1e-5;
  for (const name of outs) {
    const y = ours[name]!.data as Float32Array;
    const r = ref[name]!;
    expect(y.length, name).toBe(r.length);
    for (let i = 0; i < r.length; i++) {
      expect(toHalf(y[i]!), `${name}[${i}] is a float16 value`).toBe(y[i]);
      const err = Math.abs(y[i]! - r[i]!);
      if (!(err <= STEP * Math.abs(r[i]!) + noise * Math.max(1, Math.abs(r[i]!))))
        throw new Error(`${op} ${name}[${i}]: normkit ${y[i]}, float32 reference ${r[i]} (more than one float16 step apart)`);
    }
    expect(worst(y, theirs[name]!), `${op} ${name}: normkit vs onnxruntime float16`).toBeLessThanOrEqual(2 * STEP);
  }
}

const i32 = (v: number[], shape = [v.length]) => Tensor.from(v, shape, 'int32');
const i64 = (v: number[], shape = [v.length]) => Tensor.from(v, shape, 'int64');

/** RoPE caches cos/sin of pos · 10000^(−2i/rot), [rows, half], as float16 values. */
function ropeCaches(rows: number, half: number): [Tensor, Tensor] {
  const ang = Array.from({ length: rows * half }, (_, j) => Math.floor(j / half) * 10000 ** (-(j % half) / half));
  return [
    Tensor.from(
      ang.map((a) => toHalf(Math.cos(a))),
      [rows, half],
    ),
    Tensor.from(
      ang.map((a) => toHalf(Math.sin(a))),
      [rows, half],
    ),
  ];
}

describe('float16 models against onnxruntime-node (float32 model: one float16 step; float16 model: 2 steps)', () => {
  it('LayerNormalization, SimplifiedLayerNormalization and com.microsoft SkipSimplifiedLayerNormalization', async () => {
    const x = halves([2, 5, 32], 1, 2);
    const g = { const: halves([32], 2) };
    await expectHalfMatch('LayerNormalization', [x, g, { const: halves([32], 3, 0.1) }], { axis: -1 });
    await expectHalfMatch('SimplifiedLayerNormalization', [x, g], { axis: -1 });
    await expectHalfMatch('SkipSimplifiedLayerNormalization', [x, halves([2, 5, 32], 4), g], {}, { domain: 'com.microsoft' });
  });

  it('MatMul, Gelu (com.microsoft), Softmax, Add', async () => {
    const a = halves([3, 7, 24], 5, 0.5);
    await expectHalfMatch('MatMul', [a, { const: halves([24, 16], 6, 0.2) }], {});
    await expectHalfMatch('Gelu', [a], {}, { domain: 'com.microsoft' });
    await expectHalfMatch('Softmax', [a], { axis: -1 });
    await expectHalfMatch('Add', [a, { const: halves([24], 7) }], {});
  });

  it('com.microsoft RotaryEmbedding', async () => {
    const [cos, sin] = ropeCaches(12, 8);
    for (const interleaved of [0, 1])
      await expectHalfMatch(
        'RotaryEmbedding',
        [halves([2, 3, 64], 8), i64([0, 1, 2, 5, 6, 7], [2, 3]), cos, sin],
        { interleaved, num_heads: 4 },
        {
          domain: 'com.microsoft',
        },
      );
  });

  it('com.microsoft GroupQueryAttention: prompt with rotary, and one decoded token over a past', async () => {
    const [B, N, KV, H] = [2, 4, 2, 16];
    const [cos, sin] = ropeCaches(16, 8);
    const attrs = { num_heads: N, kv_num_heads: KV };
    const ms = { domain: 'com.microsoft', outputs: 3, noise: 1e-4 };
    await expectHalfMatch(
      'GroupQueryAttention',
      [
        halves([B, 5, N * H], 9),
        halves([B, 5, KV * H], 10),
        halves([B, 5, KV * H], 11),
        undefined,
        undefined,
        i32([4, 4]),
        i32([5], []),
        cos,
        sin,
      ],
      { ...attrs, do_rotary: 1 },
      ms,
    );
    await expectHalfMatch(
      'GroupQueryAttention',
      [
        halves([B, 1, N * H], 12),
        halves([B, 1, KV * H], 13),
        halves([B, 1, KV * H], 14),
        halves([B, KV, 6, H], 15),
        halves([B, KV, 6, H], 16),
        i32([6, 3]),
        i32([7], []),
      ],
      attrs,
      ms,
    );
  });

  it('com.microsoft MatMulNBits (the q4f16 layout: float16 A, scales and bias; packed uint8 zero points)', async () => {
    const [K, N, block] = [80, 24, 32];
    const blocks = Math.ceil(K / block);
    const r = new Rng(20);
    const u8 = (shape: number[]) =>
      tagElemType(
        Tensor.from(
          Array.from({ length: shape.reduce((x, y) => x * y) }, () => r.int(256)),
          shape,
          'int32',
        ),
        2,
      );
    const b = u8([N, blocks, block / 2]);
    const zp = u8([N * Math.ceil(blocks / 2)]);
    const scales = Tensor.from(
      Array.from({ length: N * blocks }, () => toHalf(r.uniform(0.005, 0.05))),
      [N * blocks],
    );
    const attrs = { K, N, bits: 4, block_size: block };
    await expectHalfMatch(
      'MatMulNBits',
      [halves([2, 3, K], 21), { const: b }, { const: scales }, { const: zp }, undefined, { const: halves([N], 22) }],
      attrs,
      {
        domain: 'com.microsoft',
      },
    );
  });

  it('com.microsoft MultiHeadAttention', async () => {
    await expectHalfMatch(
      'MultiHeadAttention',
      [halves([2, 5, 64], 17), halves([2, 5, 64], 18), halves([2, 5, 64], 19)],
      { num_heads: 4 },
      {
        domain: 'com.microsoft',
        noise: 1e-4,
      },
    );
  });
});
