// The element-type table and the float16 / bfloat16 bit conversions are the graph package's (one place
// for the executor, the passes and the file format); the file-format code imports them from here.
export { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat, nativeCode, type OnnxTypeInfo, onnxType, onnxTypeCode } from '@normkit/graph';
