import { type Model, type Node, roundHalfEven, tagElemType } from '@normkit/graph';
import { NormkitError, Tensor } from '@normkit/tensor';

const INT8 = 3;
const FLOAT = 1;

/**
 * W's int8 values, symmetric around 0 as onnxruntime quantizes weights: scale = max |w| · 2 / 255 (or
 * / 127 over [-64, 63] with `reduceRange`), round half to even.
 */
function quantizeWeight(w: Tensor, reduceRange: boolean): { q: Tensor; scale: number } {
  const [lo, hi] = reduceRange ? [-64, 63] : [-128, 127];
  const data = w.data as Float32Array;
  let absMax = 0;
  for (const v of data) absMax = Math.max(absMax, Math.abs(v));
  const scale = absMax > 0 ? Math.fround((absMax * 2) / (hi - lo)) : 1;
  const q = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    q[i] = Math.min(hi, Math.max(lo, roundHalfEven((data[i] as number) / scale)));
  }
  return { q: tagElemType(new Tensor(w.shape, 'int32', q), INT8), scale };
}

/**
 * The model in the q8 form that onnxruntime's `quantize_dynamic` writes (what transformers.js ships as
 * `model_quantized.onnx`): every MatMul whose right operand is a 2-D float32 initializer becomes
 * DynamicQuantizeLinear on its input (one per input, shared by the MatMuls that read it), MatMulInteger
 * with the weight in int8 (per tensor, symmetric, zero point 0), a Cast to float and a Mul by the two
 * scales. Everything else is unchanged. The input model is not modified.
 *
 * `reduceRange` keeps weights in 7 bits, [-64, 63], as onnxruntime advises for CPUs without VNNI: its
 * AVX2 kernel adds pairs of uint8 · int8 products in int16 with saturation, so full-range int8 weights
 * give it wrong sums (normkit's MatMulInteger is exact either way).
 * @example
 * ```ts
 * const q8 = quantizeDynamic(buildModel('bert', { size: 'tiny' }), { reduceRange: true });
 * q8.graph.nodes.some((n) => n.opType === 'MatMulInteger'); // true
 * ```
 */
export function quantizeDynamic(model: Model, opts: { reduceRange?: boolean } = {}): Model {
  const m = model.clone();
  const g = m.graph;
  const defaultOpset = m.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  if (defaultOpset < 11)
    throw new NormkitError(
      'INVALID_ARGUMENT',
      `quantizeDynamic: DynamicQuantizeLinear needs opset 11 or later, the model imports ${defaultOpset}`,
    );
  const quantizedInputs = new Map<string, [string, string, string]>();
  const nodes: Node[] = [];
  const add = (n: Omit<Node, 'domain' | 'attributes'> & Partial<Node>) => nodes.push({ domain: '', attributes: {}, ...n } as Node);
  const taken = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name)]);
  for (const n of g.nodes) for (const v of [n.name, ...n.inputs, ...n.outputs]) taken.add(v);
  /** A value or node name not used in the graph yet (`base`, else `base_1`, `base_2`, ...). */
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  for (const n of g.nodes) {
    const [x, wName] = n.inputs;
    const w = wName ? g.initializers.get(wName) : undefined;
    if (n.opType !== 'MatMul' || n.domain !== '' || !x || !w || w.rank !== 2 || w.dtype !== 'float32') {
      nodes.push(n);
      continue;
    }
    let xq = quantizedInputs.get(x);
    if (!xq) {
      xq = [fresh(`${x}_quantized`), fresh(`${x}_scale`), fresh(`${x}_zero_point`)];
      add({ name: fresh(`${x}_QuantizeLinear`), opType: 'DynamicQuantizeLinear', inputs: [x], outputs: xq });
      quantizedInputs.set(x, xq);
    }
    const { q, scale } = quantizeWeight(w, opts.reduceRange ?? false);
    const [wq, ws, wz] = [fresh(`${wName}_quantized`), fresh(`${wName}_scale`), fresh(`${wName}_zero_point`)];
    g.initializers.set(wq, q);
    g.initializers.set(ws, Tensor.scalar(scale));
    g.initializers.set(wz, tagElemType(Tensor.scalar(0, 'int32'), INT8));
    const [y32, yf, scales] = [fresh(`${n.outputs[0]}_MatMulInteger`), fresh(`${n.outputs[0]}_cast`), fresh(`${n.name}_scales_mul`)];
    add({ name: fresh(`${n.name}_quant`), opType: 'MatMulInteger', inputs: [xq[0], wq, xq[2], wz], outputs: [y32] });
    add({ name: fresh(`${n.name}_cast`), opType: 'Cast', inputs: [y32], outputs: [yf], attributes: { to: { type: 'int', value: FLOAT } } });
    add({ name: fresh(`${n.name}_scales_mul_node`), opType: 'Mul', inputs: [xq[1], ws], outputs: [scales] });
    add({ name: fresh(`${n.name}_output_mul`), opType: 'Mul', inputs: [yf, scales], outputs: n.outputs });
  }
  g.nodes = nodes;
  // Weights no node reads any more (the float32 originals) are dropped.
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const k of [...g.initializers.keys()]) if (!read.has(k)) g.initializers.delete(k);
  return m;
}
