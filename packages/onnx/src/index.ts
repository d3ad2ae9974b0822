/**
 * @normkit/onnx — ONNX ModelProto ⇄ normkit graph IR, lossless for what it does not touch, with safe
 * external data, atomic saving, and a conformance runner for ONNX backend test directories.
 *
 * @example
 * ```ts
 * import { loadModel, saveModel } from '@normkit/onnx';
 * const model = await loadModel('model.onnx');
 * await saveModel(model, 'copy.onnx');
 * ```
 */
export { type DecodeOptions, decodeModel, validateGraph } from './decode.js';
export { type EncodeOptions, MAX_PROTO_BYTES, encodeModel } from './encode.js';
export { type LoadOptions, type SaveOptions, loadModel, saveModel, sourceFilesOf } from './files.js';
export { type OnnxTypeInfo, onnxType, onnxTypeCode } from './dtypes.js';
export {
  DEFAULT_MAX_TENSOR_BYTES,
  type ExternalSink,
  type OpaqueData,
  OpaqueTensor,
  type TensorOrigin,
  type TensorReadOptions,
  checkExternalLocation,
  onnxTensorInfo,
  setOnnxTensorInfo,
  tensorFromProto,
  tensorName,
  tensorToProto,
} from './tensor-proto.js';
