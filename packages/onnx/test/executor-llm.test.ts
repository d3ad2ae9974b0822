// Rotary embeddings (com.microsoft RotaryEmbedding, ONNX opset 23 RotaryEmbedding) and com.microsoft
// GroupQueryAttention: normkit's executor against onnxruntime-node 1.30 on seeded inputs, within 1e-5
// relative (rotary) and 1e-4 (attention: float32 GEMM and softmax in onnxruntime, float64 in normkit).
import { inferShapes } from '@normkit/graph';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  type AttrValue,
  bothEngines,
  expectOrtMatch,
  expectSame,
  float,
  normals,
  normkitErrorOf,
  type OpInput,
  opModel,
} from './op-vs-ort.js';

const i64 = (v: number[], shape = [v.length]) => Tensor.from(v, shape, 'int64');
const i32 = (v: number[], shape = [v.length]) => Tensor.from(v, shape, 'int32');

/** Real RoPE caches: cos/sin of pos · 10000^(−2i/rot) for `rows` positions, [rows, half] (or `shape`). */
function ropeCaches(rows: number, half: number, shape = [rows, half]): [Tensor, Tensor] {
  const ang = Array.from({ length: rows * half }, (_, j) => Math.floor(j / half) * 10000 ** (-(j % half) / half));
  return [Tensor.from(ang.map(Math.cos), shape, 'float32'), Tensor.from(ang.map(Math.sin), shape, 'float32')];
}

describe('com.microsoft RotaryEmbedding (vs onnxruntime, 1e-5 relative)', () => {
  const ms = { domain: 'com.microsoft', tol: 1e-5 };
  const [cos, sin] = ropeCaches(12, 8);
  const x3 = normals([2, 3, 4 * 16], 1);
  const pos = i64([0, 1, 2, 5, 6, 7], [2, 3]);
  it('3-D input, position_ids [B, S], half-split and interleaved', async () => {
    for (const interleaved of [0, 1]) await expectOrtMatch('RotaryEmbedding', [x3, pos, cos, sin], { interleaved, num_heads: 4 }, ms);
  });
  it('one position id (the first token), 3-D input without num_heads (head size from the cache)', async () => {
    await expectOrtMatch('RotaryEmbedding', [x3, i64([4], [1]), cos, sin], {}, ms);
  });
  it('4-D [B, N, S, H] input', async () => {
    await expectOrtMatch('RotaryEmbedding', [normals([2, 4, 3, 16], 2), pos, cos, sin], { interleaved: 1 }, ms);
  });
  it('partial rotation (rotary_embedding_dim 8 of head size 16): the rest passes through', async () => {
    const [c4, s4] = ropeCaches(12, 4);
    const [y] = await expectOrtMatch('RotaryEmbedding', [x3, pos, c4, s4], { rotary_embedding_dim: 8, num_heads: 4 }, ms);
    expect(y!.toFlatArray().slice(8, 16)).toEqual(x3.toFlatArray().slice(8, 16));
  });
  it('a position past the cache is INVALID_NODE naming the node', () => {
    const e = normkitErrorOf('RotaryEmbedding', [x3, i64([11], [1]), cos, sin], {}, { domain: 'com.microsoft' });
    expect(e.message).toMatch(/RotaryEmbedding_node.*position id 12 is outside the 12 rows/);
  });
});

describe('ONNX RotaryEmbedding, opset 23 (vs onnxruntime, 1e-5 relative)', () => {
  const [cos, sin] = ropeCaches(12, 8);
  const pos = i64([0, 1, 2, 5, 6, 7], [2, 3]);
  it('4-D input with position_ids, half-split and interleaved', async () => {
    for (const interleaved of [0, 1])
      await expectOrtMatch('RotaryEmbedding', [normals([2, 4, 3, 16], 3), cos, sin, pos], { interleaved }, { opset: 23, tol: 1e-5 });
  });
  it('3-D input (num_heads), caches per token without position_ids', async () => {
    const [c, s] = ropeCaches(6, 8, [2, 3, 8]);
    await expectOrtMatch('RotaryEmbedding', [normals([2, 3, 64], 4), c, s], { num_heads: 4 }, { opset: 23, tol: 1e-5 });
  });
  it('partial rotation (rotary_embedding_dim 8)', async () => {
    const [c, s] = ropeCaches(12, 4);
    await expectOrtMatch('RotaryEmbedding', [normals([2, 4, 3, 16], 5), c, s, pos], { rotary_embedding_dim: 8 }, { opset: 23, tol: 1e-5 });
  });
  it('a 3-D input without num_heads is INVALID_NODE', () => {
    expect(normkitErrorOf('RotaryEmbedding', [normals([2, 3, 64], 4), cos, sin, pos], {}, { opset: 23 }).message).toMatch(
      /needs the num_heads attribute/,
    );
  });
});

describe('com.microsoft GroupQueryAttention (vs onnxruntime, 1e-4 relative)', () => {
  const [B, N, KV, H] = [2, 4, 2, 16];
  const gqa = (inputs: OpInput[], attrs: Record<string, AttrValue>) =>
    expectOrtMatch(
      'GroupQueryAttention',
      inputs,
      { num_heads: N, kv_num_heads: KV, ...attrs },
      {
        domain: 'com.microsoft',
        outTypes: ['float32', 'float32', 'float32'],
        tol: 1e-4,
      },
    );
  const [cos, sin] = ropeCaches(16, 8);
  const prompt = (S: number, seed: number): OpInput[] => [
    normals([B, S, N * H], seed),
    normals([B, S, KV * H], seed + 1),
    normals([B, S, KV * H], seed + 2),
    undefined,
    undefined,
    i32([S - 1, S - 1]),
    i32([S], []),
  ];
  it('prompt (no past), separate Q/K/V, kv_num_heads < num_heads: output and present caches', async () => {
    const [, pk] = await gqa(prompt(5, 1), {});
    expect(pk!.shape).toEqual([B, KV, 5, H]);
  });
  it('prompt with packed QKV, rotary (half-split and interleaved), and an explicit scale', async () => {
    const packed = normals([B, 5, (N + 2 * KV) * H], 4);
    for (const rotary_interleaved of [0, 1])
      await gqa([packed, undefined, undefined, undefined, undefined, i32([4, 4]), i32([5], []), cos, sin], {
        do_rotary: 1,
        rotary_interleaved,
        scale: float(0.2),
      });
  });
  it('decoding one token per sequence over a right-padded past of different lengths, with rotary', async () => {
    const past = [normals([B, KV, 6, H], 7), normals([B, KV, 6, H], 8)];
    const inputs = (rot: boolean): OpInput[] => [
      normals([B, 1, N * H], 9),
      normals([B, 1, KV * H], 10),
      normals([B, 1, KV * H], 11),
      past[0],
      past[1],
      i32([6, 3]),
      i32([7], []),
      ...(rot ? [cos, sin] : []),
    ];
    const [, pk] = await gqa(inputs(false), {});
    expect(pk!.shape).toEqual([B, KV, 7, H]);
    await gqa(inputs(true), { do_rotary: 1 });
  });
  it('a prompt continuing a past (batch 1), local_window_size 2, softcap and smooth_softmax', async () => {
    const one = (S: number, P: number, seed: number): OpInput[] => [
      normals([1, S, N * H], seed),
      normals([1, S, KV * H], seed + 1),
      normals([1, S, KV * H], seed + 2),
      normals([1, KV, P, H], seed + 3),
      normals([1, KV, P, H], seed + 4),
      i32([P + S - 1]),
      i32([P + S], []),
    ];
    await gqa(one(3, 4, 12), {});
    // onnxruntime 1.30's window holds local_window_size keys, the query's own included.
    await gqa(one(3, 4, 13), { local_window_size: 2 });
    await gqa(prompt(6, 14), { local_window_size: 3, softcap: float(2) });
    await gqa(prompt(4, 15), { smooth_softmax: 1 });
  });
  it('attention_bias (per batch and head, and broadcast), with and without softcap (applied before the bias, as onnxruntime does)', async () => {
    await gqa([...prompt(4, 16), undefined, undefined, undefined, normals([B, N, 4, 4], 17)], {});
    await gqa([...prompt(4, 16), undefined, undefined, undefined, normals([1, 1, 4, 4], 18)], { softcap: float(1.5) });
  });
  it('head_sink (a per-head sink logit in the softmax denominator)', async () => {
    await gqa([...prompt(4, 19), undefined, undefined, undefined, undefined, normals([N], 20)], {});
  });
  it('explicit position_ids for the rotary (every row 3, 4, 5, 6)', async () => {
    const ids = Tensor.from([3, 4, 5, 6, 3, 4, 5, 6], [B, 4], 'int64');
    await gqa([...prompt(4, 21), cos, sin, ids], { do_rotary: 1 });
  });
  it('other position_ids: normkit rotates each token by its own id, onnxruntime 1.30 by position_ids[0][0] + s', async () => {
    const opts = { domain: 'com.microsoft', outTypes: ['float32', 'float32', 'float32'] as Tensor['dtype'][] };
    const attrs = { num_heads: N, kv_num_heads: KV, do_rotary: 1 };
    const run = (ids: number[]) =>
      bothEngines('GroupQueryAttention', [...prompt(4, 23), cos, sin, Tensor.from(ids, [B, 4], 'int64')], attrs, opts);
    const gappy = await run([5, 0, 0, 0, 2, 9, 9, 9]);
    const startPlusS = await run([5, 6, 7, 8, 5, 6, 7, 8]);
    expectSame(gappy.theirs[1]!, startPlusS.theirs[1]!, 0, 'onnxruntime present_key');
    expect(() => expectSame(gappy.ours[1]!, gappy.theirs[1]!, 1e-3)).toThrow();
    // normkit's present_key row for token 1 of batch 0 is rotated by position 0: the raw key itself.
    const k = (prompt(4, 23)[1] as Tensor).toFlatArray();
    const pk = gappy.ours[1]!.toFlatArray();
    expectClose(pk.slice(H, 2 * H), k.slice(KV * H, KV * H + H));
  });
  it('qk_output 1 (scaled scores) and 2 (probabilities), [B, N, S, total]', async () => {
    const four = { domain: 'com.microsoft', outTypes: ['float32', 'float32', 'float32', 'float32'] as Tensor['dtype'][], tol: 1e-4 };
    for (const qk_output of [1, 2]) {
      const outs = await expectOrtMatch('GroupQueryAttention', prompt(3, 22), { num_heads: N, kv_num_heads: KV, qk_output }, four);
      expect(outs[3]!.shape).toEqual([B, N, 3, 3]);
    }
  });
  it('num_heads not a multiple of kv_num_heads, a misshapen attention_bias, head_sink with smooth_softmax: INVALID_NODE', () => {
    const opts = { domain: 'com.microsoft', outTypes: ['float32', 'float32', 'float32'] as Tensor['dtype'][] };
    const e = normkitErrorOf('GroupQueryAttention', prompt(2, 1), { num_heads: 4, kv_num_heads: 3 }, opts);
    expect(e.message).toMatch(/GroupQueryAttention_node.*num_heads \(4\) must be a positive multiple of kv_num_heads \(3\)/);
    const bias = [...prompt(2, 1), undefined, undefined, undefined, normals([B, N, 2, 3], 1)];
    expect(normkitErrorOf('GroupQueryAttention', bias, { num_heads: N, kv_num_heads: KV }, opts).message).toMatch(
      /attention_bias must be \[2 or 1, 4 or 1, 2, 2\]/,
    );
    const sink = [...prompt(2, 1), undefined, undefined, undefined, undefined, normals([N], 1)];
    expect(normkitErrorOf('GroupQueryAttention', sink, { num_heads: N, kv_num_heads: KV, smooth_softmax: 1 }, opts).message).toMatch(
      /head_sink and smooth_softmax/,
    );
  });
});

describe('GroupQueryAttention shape rule (inferShapes)', () => {
  it('output [B, S, N·H]; present caches [B, KV, max(total, past), H] from a constant total_sequence_length', () => {
    const { model, outs } = opModel(
      'GroupQueryAttention',
      [
        normals([2, 1, 128], 1),
        normals([2, 1, 32], 2),
        normals([2, 1, 32], 3),
        normals([2, 2, 6, 16], 4),
        normals([2, 2, 6, 16], 5),
        i32([6, 3]),
        { const: i32([7], []) },
      ],
      { num_heads: 8, kv_num_heads: 2 },
      { domain: 'com.microsoft', outTypes: ['float32', 'float32', 'float32'] },
    );
    const infos = inferShapes(model);
    expect(outs.map((o) => infos.get(o)?.shape)).toEqual([
      [2, 1, 128],
      [2, 2, 7, 16],
      [2, 2, 7, 16],
    ]);
  });
});

/** Elementwise |a − b| ≤ 1e-6. */
function expectClose(a: number[], b: number[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    expect(Math.abs(x - b[i]!)).toBeLessThanOrEqual(1e-6);
  });
}
