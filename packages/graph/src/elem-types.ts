import type { DType } from '@normkit/tensor';

/**
 * ONNX element types (TensorProto.DataType) and how normkit holds each:
 * - `native`: float32, float64, int32, int64, bool are normkit `DType`s, held as they are.
 * - `widened`: float16 and bfloat16 (→ float32), int8/uint8/int16/uint16 (→ int32) and uint32 (→ int64)
 *   convert exactly to a normkit dtype; the writer converts back, so the file keeps its type and bits.
 * - `opaque`: string, complex, uint64, the float8/4-bit types: kept as the original bytes; reading their
 *   values throws `UNSUPPORTED_DTYPE`.
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
  { code: 21, name: 'uint4', kind: 'opaque', bytes: 0.5 },
  { code: 22, name: 'int4', kind: 'opaque', bytes: 0.5 },
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
