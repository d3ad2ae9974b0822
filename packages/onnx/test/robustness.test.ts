import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NormkitError } from '@normkit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../src/index.js';
import { TESTDATA } from './helpers.js';
import { f32raw, model, node, P, vi } from './proto.js';

const FILE = 'suspect.onnx';
const expectCode = (fn: () => unknown, code: string, ...inMessage: string[]) => {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(NormkitError);
  const e = caught as NormkitError;
  expect(e.code).toBe(code);
  for (const s of inMessage) expect(e.message).toContain(s);
  return e;
};

const real = [
  'onnx-ops/test_layer_normalization_3d_last/model.onnx',
  'models/light_squeezenet/model.onnx',
  'third-party/optimum/tests/assets/onnx/model.onnx',
  'third-party/onnxruntime-history/onnxruntime/python/tools/transformers/test_data/gpt2_pytorch1.4_opset11_no_past/GPT2Model.onnx',
].map((p) => ({ path: p, bytes: new Uint8Array(readFileSync(join(TESTDATA, p))) }));

describe('malformed input gives a typed error with the file and the node', () => {
  it('truncated files', () => {
    for (const { path, bytes } of real) {
      for (const cut of [1, 7, Math.floor(bytes.length / 3), bytes.length - 1]) {
        const e = expectCode(() => decodeModel(bytes.subarray(0, cut), { fileName: path }), 'INVALID_ONNX', path);
        expect(e.details.file).toBe(path);
      }
    }
  });

  it('random bytes and an empty file', () => {
    expectCode(() => decodeModel(new Uint8Array(0), { fileName: FILE }), 'INVALID_ONNX', FILE, 'empty');
    expectCode(() => decodeModel(new TextEncoder().encode('<html>not a model</html>'), { fileName: FILE }), 'INVALID_ONNX', FILE);
  });

  it('a graph with a cycle names a node on it', () => {
    const bytes = model({
      node: [node('Relu', ['x', 'b'], ['a'], { name: 'first' }), node('Add', ['a', 'x'], ['b'], { name: 'second' })],
      input: [vi('x', 1, [1])],
      output: [vi('b', 1, [1])],
    });
    expectCode(() => decodeModel(bytes, { fileName: FILE }), 'GRAPH_CYCLE', FILE, 'first');
  });

  it('a node reading a value nothing produces', () => {
    const bytes = model({ node: [node('Relu', ['ghost'], ['y'], { name: 'reader' })], output: [vi('y', 1)] });
    const e = expectCode(() => decodeModel(bytes, { fileName: FILE }), 'UNDEFINED_VALUE', FILE, 'reader', 'ghost');
    expect(e.details).toMatchObject({ file: FILE, node: 'reader', value: 'ghost' });
    const noOut = model({ node: [], input: [vi('x', 1)], output: [vi('nowhere', 1)] });
    expectCode(() => decodeModel(noOut, { fileName: FILE }), 'UNDEFINED_VALUE', 'nowhere');
    // Without validation the graph is still read (for tools that repair graphs).
    expect(decodeModel(bytes, { validate: false }).graph.nodes).toHaveLength(1);
  });

  it('dims that would allocate more than the limit (default 4 GiB, configurable)', () => {
    const big = model({
      initializer: [{ name: 'huge', dims: [65536, 65536], dataType: 1 }],
      node: [node('Identity', ['huge'], ['y'], { name: 'id' })],
      output: [vi('y', 1)],
    });
    expectCode(() => decodeModel(big, { fileName: FILE }), 'TENSOR_TOO_LARGE', FILE, 'huge', '17179869184', String(4 * 1024 ** 3));
    const small = model({
      initializer: [{ name: 'w', dims: [100], dataType: 1, rawData: f32raw(new Array(100).fill(1)) }],
      node: [node('Identity', ['w'], ['y'])],
      output: [vi('y', 1)],
    });
    expect(decodeModel(small).graph.initializers.get('w')?.size).toBe(100);
    expectCode(() => decodeModel(small, { maxTensorBytes: 399 }), 'TENSOR_TOO_LARGE', 'w', '400');
    const negative = model({ initializer: [{ name: 'neg', dims: [-3], dataType: 1 }], node: [], output: [] });
    expectCode(() => decodeModel(negative, { fileName: FILE }), 'INVALID_SHAPE', 'neg');
  });

  it('data that does not match the dims', () => {
    const bytes = model({ initializer: [{ name: 'w', dims: [3], dataType: 1, rawData: f32raw([1, 2]) }], node: [], output: [] });
    expectCode(() => decodeModel(bytes, { fileName: FILE }), 'CORRUPT_TENSOR', FILE, 'w', '8 bytes', '12');
  });

  it('unsupported data types: unknown codes are refused, known ones kept opaque until computed with', () => {
    const bytes = model({ initializer: [{ name: 'w', dims: [1], dataType: 99, rawData: new Uint8Array(4) }], node: [], output: [] });
    expectCode(() => decodeModel(bytes, { fileName: FILE }), 'UNSUPPORTED_DTYPE', FILE, 'w', '99');
    const c64 = model({ initializer: [{ name: 'z', dims: [1], dataType: 14, floatData: [1, 2] }], node: [], output: [] });
    const t = decodeModel(c64).graph.initializers.get('z');
    expect(() => t?.data).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE', message: expect.stringContaining('complex64') }));
  });

  it('subgraphs nested absurdly deep', () => {
    let g: Record<string, unknown> = { name: 'leaf', node: [], output: [] };
    for (let i = 0; i < 80; i++) g = { name: `g${i}`, node: [node('If', ['c'], [], { attribute: [{ name: 'then_branch', type: 5, g }] })] };
    const bytes = P.ModelProto.encode({ irVersion: 8, graph: g }).finish();
    expectCode(() => decodeModel(bytes, { fileName: FILE }), 'INVALID_ONNX', 'nested');
  });
});

describe('fuzz: mutated real models', () => {
  /** Runs the reader; returns 'ok' or the error code, and fails on anything that is not a NormkitError. */
  const attempt = (bytes: Uint8Array): string => {
    try {
      decodeModel(bytes, { fileName: 'fuzzed.onnx', maxTensorBytes: 64 * 1024 * 1024 });
      return 'ok';
    } catch (e) {
      if (!(e instanceof NormkitError)) throw new Error(`reader threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack}`);
      return e.code;
    }
  };

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({
      kind: fc.constant('flip' as const),
      flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      }),
    }),
    fc.record({
      kind: fc.constant('dims' as const),
      which: fc.nat(),
      dim: fc.nat(),
      value: fc.oneof(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.bigInt({ min: -2n, max: 1n << 20n }),
        fc.bigInt({ min: 1n << 24n, max: 1n << 44n }),
      ),
    }),
  );

  const apply = (bytes: Uint8Array, m: fc.Arbitrary<unknown> extends never ? never : Record<string, unknown>): Uint8Array => {
    if (m.kind === 'truncate') return bytes.subarray(0, Math.floor((m.at as number) * bytes.length));
    if (m.kind === 'flip') {
      const out = bytes.slice();
      for (const [pos, x] of m.flips as [number, number][]) {
        const i = Math.floor(pos * out.length);
        out[i] = (out[i] as number) ^ x;
      }
      return out;
    }
    // Edit one dim of an initializer or of a graph input/output shape (through onnx-proto).
    const p = P.ModelProto.decode(bytes);
    const g = p.graph as InstanceType<typeof P.GraphProto>;
    const inits = g.initializer.filter((t) => (t.dims?.length ?? 0) > 0);
    const shapes = [...g.input, ...g.output].map((v) => v.type?.tensorType?.shape?.dim).filter((d) => d && d.length > 0);
    const total = inits.length + shapes.length;
    if (total === 0) return bytes;
    const k = (m.which as number) % total;
    const v = String(m.value);
    if (k < inits.length) {
      const t = inits[k] as InstanceType<typeof P.TensorProto>;
      (t.dims as unknown[])[(m.dim as number) % t.dims.length] = v;
    } else {
      const dims = shapes[k - inits.length] as { dimValue?: unknown }[];
      (dims[(m.dim as number) % dims.length] as { dimValue?: unknown }).dimValue = v;
    }
    return P.ModelProto.encode(p).finish();
  };

  it('the reader throws only NormkitError and always finishes', { timeout: 90_000 }, () => {
    const codes = new Map<string, number>();
    fc.assert(
      fc.property(fc.nat(real.length - 1), mutation, (which, m) => {
        const bytes = (real[which] as { bytes: Uint8Array }).bytes;
        const code = attempt(apply(bytes, m as Record<string, unknown>));
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }),
      { numRuns: 1000, seed: 20261124 },
    );
    // The mutations do reach the checks (not every mutant is still a valid model, nor all rejected the same way).
    expect(codes.size).toBeGreaterThan(3);
    expect(codes.get('TENSOR_TOO_LARGE')).toBeGreaterThan(0);
    console.log('fuzz outcomes:', Object.fromEntries(codes));
  });
});
