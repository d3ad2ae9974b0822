/**
 * The conformance suite: which test directories normkit's executor is measured on, at which
 * tolerances, and (for the one real export without stored outputs) how its reference is computed.
 * Used by `npm run conformance` (writes CONFORMANCE.md) and by test/conformance.test.ts.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Model } from '@normkit/graph';
import { Rng, Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-node';
import type { ReferenceFn, RunOptions } from '../src/index.js';

export const TESTDATA = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));
const HIST = 'third-party/onnxruntime-history/onnxruntime/python/tools/transformers/test_data';

export interface SuiteEntry {
  /** Directory relative to TESTDATA. */
  dir: string;
  group: 'onnx-ops' | 'onnx-node' | 'models' | 'transformers';
  options: RunOptions;
  /** Why this entry's tolerance or setup differs, for the table. */
  note?: string;
  /** Name in tables (default: the directory's last segment). */
  label?: string;
}

/** ONNX's backend-runner tolerances. */
const ONNX_TOL = { rtol: 1e-3, atol: 1e-7 };
/** The test data MANIFEST: 1e-4, relative or absolute, whichever is larger. */
const MODEL_TOL = { rtol: 1e-4, atol: 1e-4 };

const list = (rel: string) =>
  readdirSync(join(TESTDATA, rel))
    .sort()
    .map((d) => `${rel}/${d}`);

/** Seeded token ids in [1, 1000) and an all-ones attention mask, batch 1, 8 tokens. */
export function seededTokens(model: Model): Record<string, Tensor> {
  const rng = new Rng(42);
  const out: Record<string, Tensor> = {};
  for (const v of model.graph.inputs) {
    if (model.graph.initializers.has(v.name)) continue;
    const ids = Array.from({ length: 8 }, () => 1 + Math.floor(rng.uniform() * 999));
    out[v.name] = /mask/i.test(v.name)
      ? Tensor.from(new BigInt64Array(8).fill(1n), [1, 8])
      : Tensor.from(BigInt64Array.from(ids, BigInt), [1, 8]);
  }
  return out;
}

/** onnxruntime-node (CPU, one thread) on the same inputs. */
export const ortReference: ReferenceFn = async (modelPath, inputs) => {
  const s = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, logSeverityLevel: 4 });
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(inputs))
    feeds[k] = new ort.Tensor(t.dtype === 'float32' ? 'float32' : (t.dtype as 'int64'), t.data as never, [...t.shape]);
  const res = await s.run(feeds);
  await s.release();
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(res)) {
    const t = v as ort.Tensor;
    out[k] = new Tensor([...t.dims], t.type === 'int64' ? 'int64' : 'float32', t.data as never);
  }
  return out;
};

export function suite(): SuiteEntry[] {
  return [
    ...list('onnx-ops').map((dir) => ({ dir, group: 'onnx-ops' as const, options: { ...ONNX_TOL } })),
    ...list('third-party/onnx-node').map((dir) => ({ dir, group: 'onnx-node' as const, options: { ...ONNX_TOL } })),
    ...list('models').map((dir) => ({ dir, group: 'models' as const, options: { ...MODEL_TOL } })),
    {
      dir: `${HIST}/bert_squad_pytorch1.4_opset11`,
      group: 'transformers',
      options: { ...MODEL_TOL, model: 'BertForQuestionAnswering_0.onnx' },
      note: 'PyTorch 1.4 BERT-QA; has a Concat of a rank-0 and a rank-1 input, which onnxruntime 1.30 refuses and the normkit executor treats as shape [1] (stated in its Concat kernel)',
    },
    {
      dir: `${HIST}/bert_squad_tensorflow2.1_keras2onnx_opset11`,
      group: 'transformers',
      options: { ...MODEL_TOL },
      note: 'keras2onnx BERT-QA; inputs matched by name',
    },
    { dir: `${HIST}/gpt2_pytorch1.4_opset11_no_past`, group: 'transformers', options: { ...MODEL_TOL }, note: 'PyTorch 1.4 GPT-2' },
    {
      dir: 'third-party/optimum/tests/assets/onnx',
      label: 'optimum_tiny_distilbert',
      group: 'transformers',
      options: { ...MODEL_TOL, makeInputs: seededTokens, reference: ortReference },
      note: 'optimum tiny DistilBERT; no stored outputs: onnxruntime-node on seeded tokens',
    },
  ];
}

export const abs = (dir: string) => join(TESTDATA, dir);

/** An entry's name in tables and test titles. */
export const labelOf = (e: SuiteEntry) => e.label ?? (e.dir.split('/').pop() as string);
