import { fmtShape, type Tensor } from '@normkit/tensor';
import { attr } from '../ir.js';
import { type InferredValue, sameShape } from './dims.js';
import { hostNumbers, tensorOf } from './host-data.js';
import { defineOnnxOp, has, invalid, need, type OpContext, type ShapeContext, scalarOf, unsupported } from './registry.js';

// Decoder-LLM ops: rotary position embeddings (com.microsoft RotaryEmbedding and ONNX opset 23
// RotaryEmbedding) and com.microsoft GroupQueryAttention, as onnxruntime's CPU kernels compute them.

/** Where the heads of a [B, S, N·H] ('bsnh') or [B, N, S, H] ('bnsh') tensor lie. */
interface HeadLayout {
  B: number;
  S: number;
  N: number;
  H: number;
  bnsh: boolean;
}

/** Flat offset of head n of token s in batch b. */
const headAt = (l: HeadLayout, b: number, s: number, n: number) =>
  l.bnsh ? ((b * l.N + n) * l.S + s) * l.H : ((b * l.S + s) * l.N + n) * l.H;

/**
 * Rotates the first `rot` features of every head in place: x·cos + sign·x'·sin with the pair x' taken
 * from the other half (or, `interleaved`, the neighbour), cos/sin read at row `row(b, s)` of the
 * [rows, rot/2] caches. The remaining features pass through.
 */
function rope(
  x: Float64Array,
  l: HeadLayout,
  rot: number,
  interleaved: boolean,
  cos: Float64Array,
  sin: Float64Array,
  row: (b: number, s: number) => number,
): void {
  const half = rot / 2;
  const tmp = new Float64Array(rot);
  for (let b = 0; b < l.B; b++)
    for (let s = 0; s < l.S; s++) {
      const c = row(b, s) * half;
      for (let n = 0; n < l.N; n++) {
        const o = headAt(l, b, s, n);
        for (let i = 0; i < rot; i++) {
          const k = interleaved ? i >> 1 : i % half;
          const j = interleaved ? i ^ 1 : (i + half) % rot;
          const sign = (interleaved ? i % 2 === 0 : i < half) ? -1 : 1;
          tmp[i] = x[o + i]! * cos[c + k]! + sign * x[o + j]! * sin[c + k]!;
        }
        x.set(tmp, o);
      }
    }
}

/** The cos/sin caches ([rows, rot/2] each, same shape), checked. */
function caches(ctx: OpContext, ci: number, si: number): { cos: Float64Array; sin: Float64Array; half: number; rows: number } {
  const c = need(ctx, ci, 'cos_cache');
  const s = need(ctx, si, 'sin_cache');
  if (c.shape.join() !== s.shape.join() || c.rank < 2)
    throw invalid(ctx, `cos_cache ${fmtShape(c.shape)} and sin_cache ${fmtShape(s.shape)} must have one shape [.., rotary_dim / 2]`);
  return { cos: hostNumbers(c), sin: hostNumbers(s), half: c.shape[c.rank - 1]!, rows: c.size / c.shape[c.rank - 1]! };
}

/** The head layout of a 3-D [B, S, N·H] or 4-D [B, N, S, H] input; 3-D needs num_heads (or `headSize`). */
function layoutOf(ctx: OpContext, x: Tensor, headSize: number | undefined): HeadLayout {
  const heads = attr(ctx.node, 'num_heads', 'int', 0);
  if (x.rank === 4) {
    const [B, N, S, H] = x.shape as [number, number, number, number];
    return { B, S, N, H, bnsh: true };
  }
  if (x.rank !== 3) throw invalid(ctx, `input must be [batch, seq, hidden] or [batch, heads, seq, head_size], got ${fmtShape(x.shape)}`);
  const [B, S, D] = x.shape as [number, number, number];
  const H = heads > 0 ? D / heads : headSize;
  if (!H || !Number.isInteger(D / H)) throw invalid(ctx, `hidden size ${D} does not split into heads (set num_heads)`);
  return { B, S, N: D / H, H, bnsh: false };
}

/** The rotary dim: the rotary_embedding_dim attribute, else twice the cache width; checked against the head size. */
function rotaryDim(ctx: OpContext, half: number, H: number): number {
  const rot = attr(ctx.node, 'rotary_embedding_dim', 'int', 0) || 2 * half;
  if (rot !== 2 * half || rot > H || rot % 2 !== 0)
    throw invalid(ctx, `rotary_embedding_dim ${rot} must be even, at most head_size ${H}, and twice the cache width ${half}`);
  return rot;
}

/** A position id, checked against the cache rows. */
function positionChecked(ctx: OpContext, p: number, rows: number): number {
  if (!(Number.isInteger(p) && p >= 0 && p < rows)) throw invalid(ctx, `position id ${p} is outside the ${rows} rows of cos_cache`);
  return p;
}

/**
 * com.microsoft RotaryEmbedding(input, position_ids, cos_cache, sin_cache): position_ids [B, S], or
 * one value (the position of the first token; the rest follow).
 */
function rotaryMicrosoft(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0, 'input');
  const pos = hostNumbers(need(ctx, 1, 'position_ids'));
  const { cos, sin, half, rows } = caches(ctx, 2, 3);
  const l = layoutOf(ctx, x, 2 * half);
  const rot = rotaryDim(ctx, half, l.H);
  if (pos.length !== 1 && pos.length !== l.B * l.S)
    throw invalid(ctx, `position_ids has ${pos.length} values for batch ${l.B} × sequence ${l.S}`);
  const data = Float64Array.from(hostNumbers(x));
  const row = (b: number, s: number) => positionChecked(ctx, pos.length === 1 ? pos[0]! + s : pos[b * l.S + s]!, rows);
  rope(data, l, rot, attr(ctx.node, 'interleaved', 'int', 0) === 1, cos, sin, row);
  return [tensorOf(x.shape, x.dtype, data)];
}

/**
 * ONNX RotaryEmbedding (opset 23)(X, cos_cache, sin_cache, position_ids?): with position_ids the
 * caches are [max_position, rot/2]; without, [B, S, rot/2] (one row per token).
 */
function rotaryOnnx(ctx: OpContext): Tensor[] {
  const x = need(ctx, 0, 'X');
  const { cos, sin, half, rows } = caches(ctx, 1, 2);
  if (x.rank === 3 && !attr(ctx.node, 'num_heads', 'int', 0)) throw invalid(ctx, 'a 3-D input needs the num_heads attribute');
  const l = layoutOf(ctx, x, undefined);
  const rot = rotaryDim(ctx, half, l.H);
  const pos = has(ctx, 3) ? hostNumbers(need(ctx, 3)) : undefined;
  if (pos && pos.length !== l.B * l.S) throw invalid(ctx, `position_ids has ${pos.length} values for batch ${l.B} × sequence ${l.S}`);
  if (!pos && rows !== l.B * l.S) throw invalid(ctx, `without position_ids the caches must be [batch ${l.B}, sequence ${l.S}, ${half}]`);
  const data = Float64Array.from(hostNumbers(x));
  const row = (b: number, s: number) => (pos ? positionChecked(ctx, pos[b * l.S + s]!, rows) : b * l.S + s);
  rope(data, l, rot, attr(ctx.node, 'interleaved', 'int', 0) === 1, cos, sin, row);
  return [tensorOf(x.shape, x.dtype, data)];
}

// ---------------------------------------------------------------- GroupQueryAttention

/** GQA's inputs and attributes, checked. */
interface GqaShape {
  B: number;
  S: number;
  N: number;
  KV: number;
  H: number;
  /** Past buffer length (0 without past). */
  P: number;
  /** Present buffer length: max(total_sequence_length, P). */
  T: number;
  firstPrompt: boolean;
  /** total_sequence_length. */
  total: number;
  /** seqlens_k[b] + 1 per batch entry. */
  totals: number[];
}

function gqaShape(ctx: OpContext): GqaShape {
  const q = need(ctx, 0, 'query');
  const N = attr(ctx.node, 'num_heads', 'int', 0);
  const KV = attr(ctx.node, 'kv_num_heads', 'int', 0);
  if (!(N > 0 && KV > 0 && N % KV === 0)) throw invalid(ctx, `num_heads (${N}) must be a positive multiple of kv_num_heads (${KV})`);
  if (q.rank !== 3) throw invalid(ctx, `query must be [batch, seq, hidden], got ${fmtShape(q.shape)}`);
  const [B, S, D] = q.shape as [number, number, number];
  const packed = !has(ctx, 1);
  if (packed === has(ctx, 2)) throw invalid(ctx, 'key and value must be both present or both absent (packed QKV)');
  const H = packed ? D / (N + 2 * KV) : D / N;
  if (!Number.isInteger(H)) throw invalid(ctx, `hidden size ${D} does not split into ${packed ? `${N} + 2·${KV}` : N} heads`);
  for (const i of packed ? [] : [1, 2]) {
    const t = need(ctx, i);
    if (t.shape.join() !== [B, S, KV * H].join())
      throw invalid(ctx, `${i === 1 ? 'key' : 'value'} must be [${B}, ${S}, ${KV * H}], got ${fmtShape(t.shape)}`);
  }
  const past = has(ctx, 3) ? need(ctx, 3) : undefined;
  if (has(ctx, 3) !== has(ctx, 4)) throw invalid(ctx, 'past_key and past_value must be both present or both absent');
  if (past && (past.rank !== 4 || past.shape[0] !== B || past.shape[1] !== KV || past.shape[3] !== H))
    throw invalid(ctx, `past_key must be [${B}, ${KV}, past, ${H}], got ${fmtShape(past.shape)}`);
  const P = past ? past.shape[2]! : 0;
  const total = scalarOf(ctx, need(ctx, 6, 'total_sequence_length'), 'total_sequence_length');
  const seqlens = hostNumbers(need(ctx, 5, 'seqlens_k'));
  if (seqlens.length !== B) throw invalid(ctx, `seqlens_k has ${seqlens.length} values for batch ${B}`);
  const firstPrompt = S === total;
  if (!firstPrompt && S > 1 && B !== 1) throw invalid(ctx, 'a prompt continuing a past (sequence > 1, not the whole total) needs batch 1');
  const T = Math.max(total, P);
  const totals = Array.from(seqlens, (k, b) => {
    const t = k + 1;
    const past = firstPrompt ? 0 : t - S;
    if (!(Number.isInteger(t) && t <= T && past >= 0 && past <= P && t >= (firstPrompt ? 1 : S)))
      throw invalid(ctx, `seqlens_k[${b}] = ${k} does not fit sequence ${S}, past ${P} and total ${total}`);
    return t;
  });
  return { B, S, N, KV, H, P, T, firstPrompt, total, totals };
}

/** Splits query (or packed QKV) and key/value into [B, heads, S, H] arrays. */
function gqaHeads(ctx: OpContext, g: GqaShape): [Float64Array, Float64Array, Float64Array] {
  const { B, S, N, KV, H } = g;
  const q = hostNumbers(need(ctx, 0));
  const packed = !has(ctx, 1);
  const src = packed ? [q, q, q] : [q, hostNumbers(need(ctx, 1)), hostNumbers(need(ctx, 2))];
  const widths = packed ? N + 2 * KV : 0;
  const firstHead = packed ? [0, N, N + KV] : [0, 0, 0];
  return ([N, KV, KV] as const).map((heads, m) => {
    const out = new Float64Array(B * heads * S * H);
    const rowHeads = packed ? widths : heads;
    for (let b = 0; b < B; b++)
      for (let s = 0; s < S; s++)
        for (let n = 0; n < heads; n++) {
          const from = ((b * S + s) * rowHeads + firstHead[m]! + n) * H;
          out.set(src[m]!.subarray(from, from + H), ((b * heads + n) * S + s) * H);
        }
    return out;
  }) as [Float64Array, Float64Array, Float64Array];
}

/**
 * com.microsoft GroupQueryAttention: causal attention of num_heads query heads over kv_num_heads
 * shared key/value heads, with the past cache (BNSH, right-padded) extended by the new keys at
 * seqlens_k[b] + 1 − S; optional rotary (do_rotary, cos/sin caches), local_window_size (the last that many keys,
 * the query's own included, as onnxruntime 1.30 counts), softcap,
 * smooth_softmax, attention_bias, head_sink, position_ids (each token's own id, as the contrib spec
 * says; onnxruntime 1.30 reads only position_ids[0][0] and counts on), qk_output. Outputs the attention [B, S, N·H] and present_key/present_value [B, KV, T, H]
 * (zero past each batch's length).
 */
function groupQueryAttention(ctx: OpContext): Tensor[] {
  const g = gqaShape(ctx);
  const { B, S, N, KV, H, P, T } = g;
  const [q, k, v] = gqaHeads(ctx, g);
  const pastLen = (b: number) => (g.firstPrompt ? 0 : g.totals[b]! - S);
  if (attr(ctx.node, 'do_rotary', 'int', 0)) {
    if (!has(ctx, 7)) throw invalid(ctx, 'do_rotary=1 needs cos_cache and sin_cache');
    const { cos, sin, half, rows } = caches(ctx, 7, 8);
    const rot = rotaryDim(ctx, half, H);
    const inter = attr(ctx.node, 'rotary_interleaved', 'int', 0) === 1;
    const ids = has(ctx, 9) ? hostNumbers(need(ctx, 9)) : undefined;
    if (ids && ids.length !== B * S) throw invalid(ctx, `position_ids has ${ids.length} values for batch ${B} × sequence ${S}`);
    const row = (b: number, s: number) => positionChecked(ctx, ids ? ids[b * S + s]! : pastLen(b) + s, rows);
    rope(q, { B, S, N, H, bnsh: true }, rot, inter, cos, sin, row);
    rope(k, { B, S, N: KV, H, bnsh: true }, rot, inter, cos, sin, row);
  }
  const pk = has(ctx, 3) ? hostNumbers(need(ctx, 3)) : undefined;
  const pv = has(ctx, 4) ? hostNumbers(need(ctx, 4)) : undefined;
  const presentK = new Float64Array(B * KV * T * H);
  const presentV = new Float64Array(B * KV * T * H);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < KV; n++) {
      const dst = (b * KV + n) * T * H;
      const past = pastLen(b);
      if (pk && pv) {
        presentK.set(pk.subarray((b * KV + n) * P * H, ((b * KV + n) * P + past) * H), dst);
        presentV.set(pv.subarray((b * KV + n) * P * H, ((b * KV + n) * P + past) * H), dst);
      }
      presentK.set(k.subarray((b * KV + n) * S * H, (b * KV + n + 1) * S * H), dst + past * H);
      presentV.set(v.subarray((b * KV + n) * S * H, (b * KV + n + 1) * S * H), dst + past * H);
    }
  const qkMode = attr(ctx.node, 'qk_output', 'int', 0);
  if (qkMode !== 0 && qkMode !== 1 && qkMode !== 2) throw unsupported(ctx, `qk_output=${qkMode}`);
  const qk = qkMode ? new Float64Array(B * N * S * g.total) : undefined;
  const out = attendCausal(ctx, g, q, presentK, presentV, pastLen, gqaExtras(ctx, g), qk);
  const dtype = need(ctx, 0).dtype;
  const outs = [tensorOf([B, S, N * H], dtype, out), tensorOf([B, KV, T, H], dtype, presentK), tensorOf([B, KV, T, H], dtype, presentV)];
  return qk ? [...outs, tensorOf([B, N, S, g.total], dtype, qk)] : outs;
}

/** GQA's optional attention_bias ([B or 1, N or 1, S, total]) and head_sink ([N]) inputs, checked. */
interface GqaExtras {
  bias?: (b: number, n: number, s: number, t: number) => number;
  sink?: Float64Array;
}

function gqaExtras(ctx: OpContext, g: GqaShape): GqaExtras {
  const extras: GqaExtras = {};
  if (has(ctx, 10)) {
    const t = need(ctx, 10);
    const [b0, n0] = [t.shape[0], t.shape[1]];
    if (t.rank !== 4 || (b0 !== 1 && b0 !== g.B) || (n0 !== 1 && n0 !== g.N) || t.shape[2] !== g.S || t.shape[3] !== g.total)
      throw invalid(ctx, `attention_bias must be [${g.B} or 1, ${g.N} or 1, ${g.S}, ${g.total}], got ${fmtShape(t.shape)}`);
    const v = hostNumbers(t);
    extras.bias = (b, n, s, k) => v[(((b0 === 1 ? 0 : b) * n0! + (n0 === 1 ? 0 : n)) * g.S + s) * g.total + k]!;
  }
  if (has(ctx, 11)) {
    const t = need(ctx, 11);
    if (t.rank !== 1 || t.shape[0] !== g.N) throw invalid(ctx, `head_sink must be [${g.N}], got ${fmtShape(t.shape)}`);
    if (attr(ctx.node, 'smooth_softmax', 'int', 0) === 1) throw invalid(ctx, 'head_sink and smooth_softmax=1 cannot be combined');
    extras.sink = hostNumbers(t);
  }
  return extras;
}

/**
 * softmax(softcap(scale·q·kᵀ) + bias) v over each query's causal (and local-window) keys (the bias
 * after the softcap, as onnxruntime adds it), with an extra
 * denominator term exp(sink − max) for smooth_softmax (sink 0) or head_sink; output [B, S, N·H].
 * `qk` ([B, N, S, total]), when given, receives the scores (qk_output 1) or the probabilities (2).
 */
function attendCausal(
  ctx: OpContext,
  g: GqaShape,
  q: Float64Array,
  keys: Float64Array,
  values: Float64Array,
  pastLen: (b: number) => number,
  extras: GqaExtras,
  qk?: Float64Array,
): Float64Array {
  const { B, S, N, KV, H, T } = g;
  const scale = attr(ctx.node, 'scale', 'float', 0) || 1 / Math.sqrt(H);
  const softcap = attr(ctx.node, 'softcap', 'float', 0);
  const smooth = attr(ctx.node, 'smooth_softmax', 'int', 0) === 1;
  const window = attr(ctx.node, 'local_window_size', 'int', -1);
  const qkMode = attr(ctx.node, 'qk_output', 'int', 0);
  const out = new Float64Array(B * S * N * H);
  const scores = new Float64Array(T);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++) {
      const kv = (b * KV + Math.floor(n / (N / KV))) * T * H;
      for (let s = 0; s < S; s++) {
        const qo = ((b * N + n) * S + s) * H;
        const end = Math.min(pastLen(b) + s + 1, g.totals[b]!);
        const start = window > 0 && end > window ? end - window : 0;
        const qkRow = ((b * N + n) * S + s) * g.total;
        let max = -Infinity;
        for (let t = start; t < end; t++) {
          let dot = 0;
          for (let h = 0; h < H; h++) dot += q[qo + h]! * keys[kv + t * H + h]!;
          let x = dot * scale;
          if (qk && qkMode === 1) qk[qkRow + t] = x;
          if (softcap > 0) x = softcap * Math.tanh(x / softcap);
          if (extras.bias) x += extras.bias(b, n, s, t);
          scores[t] = x;
          max = Math.max(max, x);
        }
        const sink = extras.sink ? extras.sink[n]! : smooth ? 0 : undefined;
        if (sink !== undefined) max = Math.max(max, sink);
        let sum = sink === undefined ? 0 : Math.exp(sink - max);
        for (let t = start; t < end; t++) sum += scores[t] = Math.exp(scores[t]! - max);
        const oo = ((b * S + s) * N + n) * H;
        for (let t = start; t < end; t++) {
          const p = scores[t]! / sum;
          if (qk && qkMode === 2) qk[qkRow + t] = p;
          for (let h = 0; h < H; h++) out[oo + h] = out[oo + h]! + p * values[kv + t * H + h]!;
        }
      }
    }
  return out;
}

/** GQA's output shapes: [B, S, N·H], two [B, KV, T, H] caches (T from constants when known), and [B, N, S, total] scores with qk_output. */
function gqaShapeRule({ node, inputs }: ShapeContext): InferredValue[] {
  const qs = inputs[0]?.shape;
  const N = attr(node, 'num_heads', 'int', 0);
  const KV = attr(node, 'kv_num_heads', 'int', 0);
  const packed = !node.inputs[1];
  const D = qs?.[2];
  const H = typeof D === 'number' && N > 0 ? D / (packed ? N + 2 * KV : N) : undefined;
  const total = inputs[6]?.value ? Number(inputs[6].value.data[0]) : undefined;
  const P = inputs[3]?.shape?.[2];
  const T = total !== undefined && (typeof P === 'number' || !node.inputs[3]) ? Math.max(total, typeof P === 'number' ? P : 0) : undefined;
  const cache = { dtype: inputs[0]?.dtype, shape: [qs?.[0], KV, T, H] };
  const out = { dtype: inputs[0]?.dtype, shape: qs ? [qs[0], qs[1], H === undefined ? undefined : N * H] : undefined };
  const qk = { dtype: inputs[0]?.dtype, shape: [qs?.[0], N, qs?.[1], total] };
  return attr(node, 'qk_output', 'int', 0) ? [out, cache, { ...cache }, qk] : [out, cache, { ...cache }];
}

defineOnnxOp('com.microsoft', 'RotaryEmbedding', { kernel: rotaryMicrosoft, shape: sameShape(), hostInputs: 'all' });
defineOnnxOp('', 'RotaryEmbedding', { kernel: rotaryOnnx, shape: sameShape(), hostInputs: 'all' });
defineOnnxOp('com.microsoft', 'GroupQueryAttention', { kernel: groupQueryAttention, shape: gqaShapeRule, hostInputs: 'all' });

/** Marker that ops.ts references so bundlers keep this module (its kernels register when it loads). */
export const LLM_OPS = 'llm';
