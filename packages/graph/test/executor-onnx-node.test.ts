// The executor on ONNX backend test directories (../shared/testdata/onnx-ops and third-party/onnx-node):
// model.onnx + test_data_set_0 inputs/outputs, read here with onnx-proto directly (a minimal reader,
// independent of @normkit/onnx), compared at the ONNX runner's tolerances (rtol 1e-3, atol 1e-7).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DType, Tensor } from '@normkit/tensor';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { type Attribute, execute, Graph, Model } from '../src/index.js';

const onnx = onnxProto.onnx;
const TESTDATA = new URL('../../../../shared/testdata', import.meta.url).pathname;
const DTYPES: Record<number, DType> = { 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };

type Long = number | { toString(): string };
const num = (v: Long) => (typeof v === 'number' ? v : Number(v.toString()));

function tensorOf(t: onnxProto.onnx.ITensorProto): Tensor {
  const dtype = DTYPES[t.dataType ?? 0];
  if (!dtype) throw new Error(`test reader: element type ${t.dataType}`);
  const shape = (t.dims ?? []).map(num);
  const n = shape.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  if (raw) {
    const buf = new Uint8Array(raw).buffer as ArrayBuffer;
    const view = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array, bool: Uint8Array }[dtype];
    return new Tensor(shape, dtype, new view(buf) as never);
  }
  const vals: number[] =
    dtype === 'float32'
      ? (t.floatData ?? [])
      : dtype === 'float64'
        ? (t.doubleData ?? [])
        : dtype === 'int64'
          ? (t.int64Data ?? []).map(num)
          : (t.int32Data ?? []);
  expect(vals.length).toBe(n);
  return Tensor.from(vals, shape, dtype);
}

function attrOf(a: onnxProto.onnx.IAttributeProto): Attribute {
  switch (a.type) {
    case 1:
      return { type: 'float', value: a.f ?? 0 };
    case 2:
      return { type: 'int', value: num(a.i ?? 0) };
    case 3:
      return { type: 'string', value: new TextDecoder().decode(a.s ?? new Uint8Array()) };
    case 4:
      return { type: 'tensor', value: tensorOf(a.t as onnxProto.onnx.ITensorProto) };
    case 5:
      return { type: 'graph', value: graphOf(a.g as onnxProto.onnx.IGraphProto) };
    case 6:
      return { type: 'floats', value: a.floats ?? [] };
    case 7:
      return { type: 'ints', value: (a.ints ?? []).map(num) };
    case 8:
      return { type: 'strings', value: (a.strings ?? []).map((s) => new TextDecoder().decode(s)) };
    default:
      return { type: 'raw', value: a };
  }
}

function graphOf(gp: onnxProto.onnx.IGraphProto): Graph {
  const g = new Graph(gp.name ?? 'g');
  for (const t of gp.initializer ?? []) g.initializers.set(t.name ?? '', tensorOf(t));
  const vi = (v: onnxProto.onnx.IValueInfoProto) => {
    const tt = v.type?.tensorType;
    return {
      name: v.name ?? '',
      dtype: DTYPES[tt?.elemType ?? 0],
      shape: tt?.shape ? (tt.shape.dim ?? []).map((d) => (d.dimValue != null ? num(d.dimValue) : (d.dimParam ?? undefined))) : undefined,
    };
  };
  g.inputs = (gp.input ?? []).map(vi);
  g.outputs = (gp.output ?? []).map(vi);
  (gp.node ?? []).forEach((n, i) => {
    const attributes: Record<string, Attribute> = {};
    for (const a of n.attribute ?? []) attributes[a.name ?? ''] = attrOf(a);
    g.addNode({
      name: n.name || `node_${i}`,
      opType: n.opType ?? '',
      domain: n.domain ?? '',
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attributes,
    });
  });
  return g;
}

function load(dir: string): { model: Model; inputs: Record<string, Tensor>; outputs: Record<string, Tensor> } {
  const mp = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
  const graph = graphOf(mp.graph as onnxProto.onnx.IGraphProto);
  const model = new Model(
    graph,
    (mp.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: num(o.version ?? 1) })),
  );
  const set = join(dir, 'test_data_set_0');
  const runtime = graph.inputs.filter((v) => !graph.initializers.has(v.name));
  const read = (prefix: string, names: string[]) => {
    const out: Record<string, Tensor> = {};
    const files = readdirSync(set)
      .filter((f) => f.startsWith(prefix))
      .sort((a, b) => Number(a.match(/\d+/)?.[0]) - Number(b.match(/\d+/)?.[0]));
    files.forEach((f, i) => {
      const tp = onnx.TensorProto.decode(readFileSync(join(set, f)));
      const name = tp.name && names.includes(tp.name) ? tp.name : (names[i] as string);
      out[name] = tensorOf(tp);
    });
    return out;
  };
  return {
    model,
    inputs: read(
      'input_',
      runtime.map((v) => v.name),
    ),
    outputs: read(
      'output_',
      graph.outputs.map((v) => v.name),
    ),
  };
}

/** numpy allclose: |a − e| ≤ atol + rtol·|e|; returns the worst excess (≤ 0 when all pass). */
function worst(a: Tensor, e: Tensor, rtol = 1e-3, atol = 1e-7): number {
  const av = a.toFlatArray();
  const ev = e.toFlatArray();
  let w = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < ev.length; i++) {
    if (Number.isNaN(ev[i]!) && Number.isNaN(av[i]!)) continue;
    w = Math.max(w, Math.abs(av[i]! - ev[i]!) - (atol + rtol * Math.abs(ev[i]!)));
  }
  return Number.isNaN(w) ? Number.POSITIVE_INFINITY : w;
}

const dirsOf = (root: string) =>
  existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(join(root, d, 'test_data_set_0')))
        .sort()
        .map((d) => join(root, d))
    : [];

const ONNX_OPS = dirsOf(join(TESTDATA, 'onnx-ops'));
const ONNX_NODE = dirsOf(join(TESTDATA, 'third-party', 'onnx-node'));

describe.skipIf(ONNX_OPS.length === 0)('ONNX backend test directories', () => {
  it.each([...ONNX_OPS, ...ONNX_NODE].map((d) => [d.slice(TESTDATA.length + 1), d]))('%s', (_name, dir) => {
    const { model, inputs, outputs } = load(dir as string);
    const got = execute(model, inputs).outputs;
    for (const [name, want] of Object.entries(outputs)) {
      const g = got[name];
      expect(g, name).toBeDefined();
      expect([...g!.shape]).toEqual([...want.shape]);
      expect(g!.dtype).toBe(want.dtype);
      expect(worst(g!, want)).toBeLessThanOrEqual(0);
    }
  });
});
