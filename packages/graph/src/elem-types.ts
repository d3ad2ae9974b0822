import type { DType } from '@normkit/tensor';

/**
 * ONNX element types (TensorProto.DataType) and how normkit holds each:
 * - `native`: float32, float64, int32, int64, bool are normkit `DType`s, held as they are.
 * - `widened`: float16 and bfloat16 (→ float32), int8/uint8/int16/uint16/int4/uint4 (→ int32) and uint32
 *   (→ int64) convert exactly to a normkit dtype; the writer converts back, so the file keeps its type and
 *   bits (int4/uint4 unpacked two per byte, low nibble first).
 * - `opaque`: string, complex, uint64, the float8/float4/2-bit types: kept as the original bytes; reading
 *   their values throws `UNSUPPORTED_DTYPE`.
 */
export interface OnnxTypeInfo {
  code: number;
  name: string;
  /** The normkit dtype this type is held as, when it is not opaque. */
  dtype?: DType;
  kind: 'native' | 'widened' | 'opaque';
  /** Bytes per element in raw_data (0 for strings; fractional for 4-bit types is rounded up in use). */
  bytes: number;
}

const TABLE: OnnxTypeInfo[] = [
  { code: 1, name: 'float32', dtype: 'float32', kind: 'native', bytes: 4 },
  { code: 2, name: 'uint8', dtype: 'int32', kind: 'widened', bytes: 1 },
  { code: 3, name: 'int8', dtype: 'int32', kind: 'widened', bytes: 1 },
  { code: 4, name: 'uint16', dtype: 'int32', kind: 'widened', bytes: 2 },
  { code: 5, name: 'int16', dtype: 'int32', kind: 'widened', bytes: 2 },
  { code: 6, name: 'int32', dtype: 'int32', kind: 'native', bytes: 4 },
  { code: 7, name: 'int64', dtype: 'int64', kind: 'native', bytes: 8 },
  { code: 8, name: 'string', kind: 'opaque', bytes: 0 },
  { code: 9, name: 'bool', dtype: 'bool', kind: 'native', bytes: 1 },
  { code: 10, name: 'float16', dtype: 'float32', kind: 'widened', bytes: 2 },
  { code: 11, name: 'float64', dtype: 'float64', kind: 'native', bytes: 8 },
  { code: 12, name: 'uint32', dtype: 'int64', kind: 'widened', bytes: 4 },
  { code: 13, name: 'uint64', kind: 'opaque', bytes: 8 },
  { code: 14, name: 'complex64', kind: 'opaque', bytes: 8 },
  { code: 15, name: 'complex128', kind: 'opaque', bytes: 16 },
  { code: 16, name: 'bfloat16', dtype: 'float32', kind: 'widened', bytes: 2 },
  { code: 17, name: 'float8e4m3fn', kind: 'opaque', bytes: 1 },
  { code: 18, name: 'float8e4m3fnuz', kind: 'opaque', bytes: 1 },
  { code: 19, name: 'float8e5m2', kind: 'opaque', bytes: 1 },
  { code: 20, name: 'float8e5m2fnuz', kind: 'opaque', bytes: 1 },
  { code: 21, name: 'uint4', dtype: 'int32', kind: 'widened', bytes: 0.5 },
  { code: 22, name: 'int4', dtype: 'int32', kind: 'widened', bytes: 0.5 },
  { code: 23, name: 'float4e2m1', kind: 'opaque', bytes: 0.5 },
  { code: 24, name: 'float8e8m0', kind: 'opaque', bytes: 1 },
  { code: 25, name: 'uint2', kind: 'opaque', bytes: 0.25 },
  { code: 26, name: 'int2', kind: 'opaque', bytes: 0.25 },
];

const BY_CODE = new Map(TABLE.map((t) => [t.code, t]));
const BY_NAME = new Map(TABLE.map((t) => [t.name, t]));
const NATIVE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 };

/**
 * What normkit knows about an ONNX element type code (undefined for codes it does not know).
 * @example onnxType(10) // { code: 10, name: 'float16', dtype: 'float32', kind: 'widened', bytes: 2 }
 */
export function onnxType(code: number): OnnxTypeInfo | undefined {
  return BY_CODE.get(code);
}

/** The ONNX element type code for a type name ('float16') or a normkit dtype. @example onnxTypeCode('int64') // 7 */
export function onnxTypeCode(name: string): number | undefined {
  return NATIVE[name as DType] ?? BY_NAME.get(name)?.code;
}

/** The ONNX code of a normkit dtype. */
export function nativeCode(dtype: DType): number {
  return NATIVE[dtype];
}

/** The ONNX element type name of a code ('float16'), or `#<code>` for a code ONNX does not define. @example elemTypeName(10) // 'float16' */
export function elemTypeName(code: number): string {
  return BY_CODE.get(code)?.name ?? `#${code}`;
}

/** Whether an element type name is one normkit computes in natively. @example isNativeDType('float16') // false */
export function isNativeDType(name: string | undefined): name is DType {
  return name !== undefined && name in NATIVE;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits → float32 (exact). @example halfToFloat(0x3c00) // 1 */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 → IEEE half bits, round to nearest even (exact for values that came from a half). @example floatToHalf(1) // 0x3c00 */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  e = h >> 10;
  return sign | h;
}

/** bfloat16 bits → float32 (exact). @example bf16ToFloat(0x3f80) // 1 */
export function bf16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0] as number;
}

/** float32 → bfloat16 bits, round to nearest even (exact for values that came from a bfloat16). @example floatToBf16(1) // 0x3f80 */
export function floatToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Integer ranges of the narrow integer types, which ONNX Cast wraps into (two's complement). */
const WRAP: Record<number, { bits: number; signed: boolean }> = {
  2: { bits: 8, signed: false },
  3: { bits: 8, signed: true },
  4: { bits: 16, signed: false },
  5: { bits: 16, signed: true },
  12: { bits: 32, signed: false },
};

/**
 * The value of `v` (already in the carrier dtype) as the narrow ONNX type `code` holds it: float16 and
 * bfloat16 round to nearest even, the narrow integers wrap. Identity for native types. This is how the
 * executor gives `Cast(to = FLOAT16)` and friends their exact semantics while computing in float32.
 * @example narrowValue(10, 1.0001) // 1 (the nearest float16)
 */
export function narrowValue(code: number, v: number): number {
  if (code === 10) return halfToFloat(floatToHalf(v));
  if (code === 16) return bf16ToFloat(floatToBf16(v));
  const w = WRAP[code];
  if (!w || !Number.isFinite(v)) return v;
  const m = 2 ** w.bits;
  const r = ((Math.trunc(v) % m) + m) % m;
  return w.signed && r >= m / 2 ? r - m : r;
}

const TAG_KEY = Symbol.for('@normkit/graph.elemTypeTag');
function tagRegistry(): WeakMap<object, number> {
  // One registry shared by every copy of this module (ESM and CJS builds loaded side by side).
  const g = globalThis as Record<symbol, unknown>;
  let m = g[TAG_KEY] as WeakMap<object, number> | undefined;
  if (!m) {
    m = new WeakMap<object, number>();
    g[TAG_KEY] = m;
  }
  return m;
}
const tags = tagRegistry();

/**
 * Records that `t` (held in its carrier dtype) has the narrow ONNX element type `code`: an int8 zero
 * point in an int32 tensor, a float16 scale in a float32 one. The ONNX reader tags every widened tensor
 * it decodes and the quantization kernels tag their outputs, so kernels that depend on the narrow type
 * (QuantizeLinear's saturation range, DequantizeLinear's float16 output) can read it, and the writer
 * stores the tensor in that type. Returns `t`.
 * @example tagElemType(Tensor.from([0], [1], 'int32'), onnxTypeCode('int8')!) // an int8 zero point
 */
export function tagElemType<T extends object>(t: T, code: number): T {
  tags.set(t, code);
  return t;
}

/** The narrow ONNX element type recorded for `t` by `tagElemType`, or undefined. @example taggedElemType(zp) // 3 (int8) */
export function taggedElemType(t: object): number | undefined {
  return tags.get(t);
}

/**
 * `n` values of `bits` bits each (1 to 8) from packed bytes, least significant bits first (ONNX int4/uint4:
 * two per byte, low nibble first), sign-extended when `signed`. The inverse of `packBits`.
 * @example unpackBits(new Uint8Array([0xf1]), 2, 4, true) // Int32Array [1, -1]
 */
export function unpackBits(bytes: ArrayLike<number>, n: number, bits: number, signed = false, offset = 0): Int32Array {
  const o = new Int32Array(n);
  const mask = (1 << bits) - 1;
  const half = 1 << (bits - 1);
  for (let i = 0; i < n; i++) {
    const bit = i * bits;
    const at = offset + (bit >> 3);
    const word = (bytes[at] as number) | (((bytes[at + 1] as number | undefined) ?? 0) << 8);
    const v = (word >> (bit & 7)) & mask;
    o[i] = signed && v >= half ? v - (mask + 1) : v;
  }
  return o;
}

/** Values packed `bits` bits each, least significant bits first (see `unpackBits`). @example packBits([1, -1], 4) // Uint8Array [0xf1] */
export function packBits(values: ArrayLike<number>, bits: number): Uint8Array {
  const o = new Uint8Array(Math.ceil((values.length * bits) / 8));
  const mask = (1 << bits) - 1;
  for (let i = 0; i < values.length; i++) {
    const bit = i * bits;
    const v = ((values[i] as number) & mask) << (bit & 7);
    o[bit >> 3] = (o[bit >> 3] as number) | (v & 0xff);
    if (v > 0xff) o[(bit >> 3) + 1] = (o[(bit >> 3) + 1] as number) | (v >> 8);
  }
  return o;
}
