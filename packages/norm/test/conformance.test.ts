// Conformance with the ONNX operator tests (onnx-node + onnx-ops) and the ORT-web JSON vectors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  batchNorm,
  batchNormTraining,
  groupNorm,
  instanceNorm,
  layerNormWithStats,
  meanVarianceNormalization,
  rmsNorm,
} from '../src/index.js';
import { listCases, loadCase, maxErr, type OnnxCase, type PbTensor, TESTDATA } from './onnx-testdata.js';

const PREFIXES = [
  'test_layer_normalization',
  'test_rms_normalization',
  'test_group_normalization',
  'test_batchnorm',
  'test_instancenorm',
  'test_mvn',
];
const TOL = 1e-4;

const t32 = (p: PbTensor) => new Tensor(p.dims, 'float32', Float32Array.from(p.data));

/** Runs the ONNX node of `c` (attributes from `attrCase`, for `_expanded` forms the sibling's node) on data set `s`. */
function runNode(c: OnnxCase, attrCase: OnnxCase, s: number): Tensor[] {
  const set = c.sets[s] as OnnxCase['sets'][number];
  // Bind the node's inputs by position: graph inputs come from the data set (by name when named), the rest from initializers.
  const byName = new Map<string, PbTensor>();
  c.graphInputs.forEach((n, i) => {
    const t = set.inputs.find((p) => p.name === n) ?? set.inputs[i];
    if (t) byName.set(n, t);
  });
  for (const [n, t] of Object.entries(c.initializers)) byName.set(n, t);
  const names = attrCase === c ? c.nodeInputs : attrCase.nodeInputs;
  const inputs = names.map((n, i) =>
    n === '' ? undefined : (byName.get(attrCase === c ? n : (c.graphInputs[i] as string)) ?? byName.get(n)),
  );
  const inp = (i: number) => {
    const t = inputs[i];
    return t ? t32(t) : undefined;
  };
  const a = attrCase.attrs;
  const eps = (d: number) => (a.epsilon as number | undefined) ?? d;
  const x = inp(0) as Tensor;
  switch (attrCase.opType) {
    case 'LayerNormalization': {
      const r = layerNormWithStats(x, { axis: (a.axis as number | undefined) ?? -1, epsilon: eps(1e-5), scale: inp(1), bias: inp(2) });
      return [r.y, r.mean, r.invStdDev];
    }
    case 'RMSNormalization':
      return [rmsNorm(x, { axis: (a.axis as number | undefined) ?? -1, epsilon: eps(1e-5), scale: inp(1) })];
    case 'GroupNormalization':
      return [
        groupNorm(x, {
          numGroups: a.num_groups as number,
          epsilon: eps(1e-5),
          scale: inp(1),
          bias: inp(2),
          affine: attrCase.opset >= 21 ? 'channel' : 'group',
        }),
      ];
    case 'InstanceNormalization':
      return [instanceNorm(x, { epsilon: eps(1e-5), scale: inp(1), bias: inp(2) })];
    case 'MeanVarianceNormalization':
      return [meanVarianceNormalization(x, { axes: (a.axes as number[] | undefined) ?? [0, 2, 3] })];
    case 'BatchNormalization': {
      const common = { scale: inp(1), bias: inp(2), epsilon: eps(1e-5) };
      if (a.training_mode === 1) {
        // ONNX: running = input·momentum + batch·(1 − momentum); ours weights the batch by `momentum`.
        const r = batchNormTraining(x, {
          ...common,
          runningMean: inp(3),
          runningVar: inp(4),
          momentum: 1 - ((a.momentum as number | undefined) ?? 0.9),
        });
        return [r.y, r.runningMean, r.runningVar];
      }
      return [batchNorm(x, { ...common, runningMean: inp(3) as Tensor, runningVar: inp(4) as Tensor })];
    }
    default:
      throw new Error(`no operator for ${attrCase.opType}`);
  }
}

function siblingOf(name: string): string {
  return name.replace(/_expanded(_ver\d+)?$/, '');
}

const results: { dir: string; pass: boolean; err: number; outputs: number }[] = [];

for (const root of ['third-party/onnx-node', 'onnx-ops']) {
  const dirs = listCases(join(TESTDATA, root), PREFIXES);
  describe(`ONNX operator tests: ${root} (${dirs.length} directories)`, () => {
    it('finds the test directories', () => expect(dirs.length).toBeGreaterThan(root === 'onnx-ops' ? 5 : 100));
    for (const dir of dirs) {
      const name = dir.split('/').pop() as string;
      it(name, () => {
        const c = loadCase(dir);
        // `_expanded` forms hold the function body (primitive ops) instead of the node; their
        // attributes are those of the sibling directory, their data sets are checked here.
        const attrCase = name.includes('_expanded') ? loadCase(join(dir, '..', siblingOf(name))) : c;
        let worst = 0;
        let outputs = 0;
        for (let s = 0; s < c.sets.length; s++) {
          const got = runNode(c, attrCase, s);
          const expected = (c.sets[s] as OnnxCase['sets'][number]).outputs;
          expected.forEach((e, i) => {
            const g = got[i];
            expect(g, `output ${i} (${e.name}) of ${name}`).toBeDefined();
            expect([...(g as Tensor).shape]).toEqual(e.dims);
            const err = maxErr((g as Tensor).data as Float32Array, e.data);
            worst = Math.max(worst, err);
            outputs++;
          });
        }
        results.push({ dir: `${root}/${name}`, pass: worst <= TOL, err: worst, outputs });
        expect(worst).toBeLessThanOrEqual(TOL);
      });
    }
  });
}

// ---- ORT-web JSON test vectors ----
interface JsonTensor {
  data: number[] | null;
  dims?: number[];
  type: string;
}
interface JsonSuite {
  name: string;
  operator: string;
  opset?: { domain: string; version: number };
  attributes?: { name: string; data: number | number[]; type: string }[];
  cases: { name: string; inputs: JsonTensor[]; outputs: JsonTensor[] }[];
}

function parseJsonc(text: string): JsonSuite[] {
  // Strip // line comments outside strings (the files have no block comments or '//' inside strings).
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, '').replace(/,(\s*[\]}])/g, '$1'));
}

const jt = (t: JsonTensor) => new Tensor(t.dims ?? [(t.data as number[]).length], 'float32', Float32Array.from(t.data as number[]));

function runJson(suite: JsonSuite, inputs: Tensor[]): (Tensor | undefined)[] {
  const attr = (n: string) => suite.attributes?.find((a) => a.name === n)?.data as number | undefined;
  const nhwc = suite.opset?.domain === 'com.ms.internal.nhwc';
  const [x, a1, a2, a3, a4] = inputs as [Tensor, Tensor?, Tensor?, Tensor?, Tensor?];
  const eps = attr('epsilon') ?? 1e-5;
  switch (suite.operator) {
    case 'LayerNormalization':
      return [layerNormWithStats(x, { axis: attr('axis') ?? -1, epsilon: eps, scale: a1, bias: a2 }).y];
    case 'SimplifiedLayerNormalization':
      return [rmsNorm(x, { axis: attr('axis') ?? -1, epsilon: eps, scale: a1 })];
    case 'SkipLayerNormalization': {
      // com.microsoft: input, skip, gamma, beta, bias → LN(input + skip + bias); output 3 = the sum.
      const s = Float32Array.from(
        x.data as Float32Array,
        (v, i) => v + ((a1 as Tensor).data[i] as number) + (a4 ? (a4.data[i % a4.size] as number) : 0),
      );
      const sum = new Tensor(x.shape, 'float32', s);
      return [layerNormWithStats(sum, { epsilon: eps, scale: a2, bias: a3 }).y, undefined, undefined, sum];
    }
    case 'SkipSimplifiedLayerNormalization': {
      const s = Float32Array.from(x.data as Float32Array, (v, i) => v + ((a1 as Tensor).data[i] as number));
      return [rmsNorm(new Tensor(x.shape, 'float32', s), { epsilon: eps, scale: a2 })];
    }
    case 'InstanceNormalization':
      return [instanceNorm(x, { epsilon: eps, scale: a1, bias: a2 })];
    case 'BatchNormalization':
      return [
        batchNorm(x, {
          scale: a1,
          bias: a2,
          runningMean: a3 as Tensor,
          runningVar: a4 as Tensor,
          epsilon: eps,
          channelAxis: nhwc ? -1 : 1,
          spatial: attr('spatial') !== 0,
        }),
      ];
    default:
      throw new Error(`no operator for ${suite.operator}`);
  }
}

const JSON_DIR = join(TESTDATA, 'third-party/onnxruntime/js/web/test/data/ops');
const JSON_FILES = [
  'layer-norm.jsonc',
  'simplified-layer-norm.jsonc',
  'skip-layer-norm.jsonc',
  'skip-simplified-layer-norm.jsonc',
  'instance-norm.jsonc',
  'batch-norm.jsonc',
];

describe('ORT-web JSON vectors (norm ops)', () => {
  for (const file of JSON_FILES) {
    const suites = parseJsonc(readFileSync(join(JSON_DIR, file), 'utf8'));
    for (const suite of suites) {
      for (const cs of suite.cases) {
        it(`${file}: ${suite.name} / ${cs.name}`, () => {
          const got = runJson(suite, cs.inputs.map(jt));
          let worst = 0;
          cs.outputs.forEach((e, i) => {
            if (e.data === null) return;
            const g = got[i] as Tensor;
            expect([...g.shape]).toEqual(e.dims);
            worst = Math.max(worst, maxErr(g.data as Float32Array, e.data));
          });
          results.push({ dir: `ort-web/${file}: ${suite.name} / ${cs.name}`, pass: worst <= TOL, err: worst, outputs: cs.outputs.length });
          expect(worst).toBeLessThanOrEqual(TOL);
        });
      }
    }
  }
});

describe('summary', () => {
  it('prints the conformance counts', () => {
    const by = (p: string) => results.filter((r) => r.dir.startsWith(p));
    for (const p of ['third-party/onnx-node', 'onnx-ops', 'ort-web']) {
      const rs = by(p);
      console.log(
        `[conformance] ${p}: ${rs.filter((r) => r.pass).length}/${rs.length} pass, worst error ${Math.max(0, ...rs.map((r) => r.err)).toExponential(2)}`,
      );
    }
  });
});
