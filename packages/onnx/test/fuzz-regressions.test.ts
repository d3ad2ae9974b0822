// Findings of the fuzz campaign (apps/convert-bench/scripts/fuzz.ts, seed 20261206) on real models,
// rebuilt here from the test-data file plus the same protobuf edit: a declared dim of 2^31..2^53 on a
// LayerNorm input, and a Concat axis of 2^31 - 1 / 2^31. The analysis must answer with a typed error
// (or finish) without allocating in proportion to the hostile number.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeFoldability, execute, inferShapes, type Model, randomInputs, recognizeLayerNorms } from '@normkit/graph';
import { NormkitError } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../src/index.js';
import { TESTDATA } from './helpers.js';
import { P } from './proto.js';

const ORT = 'third-party/onnxruntime/onnxruntime/test';
const FUSION = `${ORT}/testdata/transform/fusion`;
type ModelProto = InstanceType<typeof P.ModelProto>;

/** The real model at `path` with `edit` applied to its ModelProto, read back through decodeModel. */
function mutant(path: string, edit: (p: ModelProto) => void): Model {
  const p = P.ModelProto.decode(readFileSync(join(TESTDATA, path)));
  edit(p);
  return decodeModel(P.ModelProto.encode(p).finish(), { fileName: path });
}

/** The fuzz campaign's `dims` mutation: graph input `input`, dim `k` = `value`. */
const inputDim = (input: string, k: number, value: number) => (p: ModelProto) => {
  const v = p.graph?.input?.find((i) => i.name === input);
  const dim = v?.type?.tensorType?.shape?.dim?.[k];
  if (!dim) throw new Error(`test setup: no dim ${k} on input "${input}"`);
  dim.dimValue = value;
  dim.dimParam = undefined;
};

/** The campaign's `attribute` mutation: node `name`'s int attribute `key` = `value`. */
const intAttr = (name: string, key: string, value: number) => (p: ModelProto) => {
  const a = p.graph?.node?.find((n) => n.name === name)?.attribute?.find((x) => x.name === key);
  if (!a) throw new Error(`test setup: no attribute ${key} on node "${name}"`);
  a.i = value;
};

/** Runs `fn`; returns what it threw and the growth of resident + array-buffer memory in MiB. */
function measured(fn: () => void): { error: unknown; grownMiB: number } {
  const mem = () => process.memoryUsage().rss + process.memoryUsage().arrayBuffers;
  const before = mem();
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  return { error, grownMiB: (mem() - before) / 2 ** 20 };
}

/** The campaign's analyze stage: shape inference, recognition, foldability. */
function analyze(m: Model): void {
  inferShapes(m.clone());
  analyzeFoldability(recognizeLayerNorms(m).model);
}

describe('fuzz findings: a huge declared dim on a LayerNorm input (was RangeError / 8 GiB in recognizeLayerNorms)', () => {
  const cases = [
    { index: 3759, file: 'layer_norm_with_cast_3.onnx', input: 'A', k: 2, value: 2 ** 53 },
    { index: 19408, file: 'layer_norm_with_cast.onnx', input: 'input', k: 2, value: 2 ** 31 },
    { index: 27449, file: 'simplified_layer_norm_with_casts.onnx', input: 'A', k: 2, value: 2 ** 53 },
    { index: 33790, file: 'layer_norm_with_cast.onnx', input: 'input', k: 2, value: 2 ** 32 },
    { index: 56209, file: 'layer_norm_with_cast.onnx', input: 'input', k: 1, value: 2 ** 31 },
    { index: 57066, file: 'skip_layer_norm_format1_with_cast.onnx', input: 'A', k: 2, value: 2 ** 31 - 1 },
    { index: 61305, file: 'skip_layer_norm_format3_graph_output_with_cast.onnx', input: 'A', k: 2, value: 2 ** 53 },
  ];
  for (const c of cases)
    it(`#${c.index} ${c.file}: ${c.input} dim ${c.k} = ${c.value} → TENSOR_TOO_LARGE naming the node and the value`, () => {
      const m = mutant(`${FUSION}/${c.file}`, inputDim(c.input, c.k, c.value));
      const { error, grownMiB } = measured(() => analyze(m));
      expect(error).toBeInstanceOf(NormkitError);
      const e = error as NormkitError;
      expect(e.code).toBe('TENSOR_TOO_LARGE');
      expect(e.message).toMatch(/recognizeLayerNorms: γ \(scale\) of the (LayerNormalization|RMSNormalization) at "[^"]+"/);
      expect(e.message).toContain('fix or remove it');
      expect(e.details.value).toBeTypeOf('string');
      expect(grownMiB).toBeLessThan(200);
    });

  it('the unmutated models still fuse (the bound does not touch real sizes)', () => {
    for (const f of ['layer_norm_with_cast.onnx', 'skip_layer_norm_format1_with_cast.onnx', 'simplified_layer_norm_with_casts.onnx']) {
      const m = mutant(`${FUSION}/${f}`, () => {});
      expect(recognizeLayerNorms(m).fused).toHaveLength(1);
    }
  });
});

describe('fuzz findings: a Concat axis of 2^31 (was a 2^31-long shape array in shape inference: OOM / hang)', () => {
  it('#16847 embed_layer_norm_format3: Concat "concat" axis = 2^31 → analysis bounded, the run says AXIS_OUT_OF_RANGE', () => {
    const m = mutant(`${FUSION}/embed_layer_norm_format3_no_cast_opset13.onnx`, intAttr('concat', 'axis', 2 ** 31));
    const { error, grownMiB } = measured(() => analyze(m));
    expect(error).toBeUndefined();
    expect(grownMiB).toBeLessThan(200);
    expect(inferShapes(m.clone()).get('concat_out')?.shape).toBeUndefined();
    const run = measured(() => execute(m, randomInputs(m, 0)));
    expect(run.error).toBeInstanceOf(NormkitError);
    expect((run.error as NormkitError).code).toBe('AXIS_OUT_OF_RANGE');
    expect((run.error as NormkitError).message).toContain('"concat"');
  });

  it('#15132 gpt2_past: Concat "Concat_1273" axis = 2^31 - 1 → analysis finishes in bounded memory, shape left unknown', () => {
    const m = mutant(`${ORT}/python/transformers/test_data/models/gpt2_past.onnx`, intAttr('Concat_1273', 'axis', 2 ** 31 - 1));
    const out = m.graph.nodes.find((n) => n.name === 'Concat_1273')?.outputs[0] as string;
    const t0 = performance.now();
    const { error, grownMiB } = measured(() => analyze(m));
    expect(error).toBeUndefined();
    expect(grownMiB).toBeLessThan(200);
    expect(performance.now() - t0).toBeLessThan(10_000);
    const shape = inferShapes(m.clone()).get(out)?.shape;
    expect(shape === undefined || shape.length <= 8).toBe(true);
  });
});

describe('fuzz findings: Expand fed a float tensor as its shape (seed 2, #24037: 24 dims from a [2, 3, 4] tensor, 2 GiB)', () => {
  it('embed_layer_norm_format3_no_cast: "word_add_pos" Add → Expand → INVALID_NODE naming the node and the input', () => {
    const m = mutant(`${FUSION}/embed_layer_norm_format3_no_cast.onnx`, (p) => {
      const n = p.graph?.node?.find((x) => x.name === 'word_add_pos');
      if (!n) throw new Error('test setup: no node "word_add_pos"');
      n.opType = 'Expand';
    });
    const { error, grownMiB } = measured(() => execute(m, randomInputs(m, 0)));
    expect(error).toBeInstanceOf(NormkitError);
    expect((error as NormkitError).code).toBe('INVALID_NODE');
    expect((error as NormkitError).message).toContain('node "word_add_pos" (Expand): shape "pos_gather_out" must be a 1-D int64 tensor');
    expect(grownMiB).toBeLessThan(200);
  });
});
