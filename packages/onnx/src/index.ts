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
export { type OnnxTypeInfo, onnxType, onnxTypeCode } from './dtypes.js';
export { type EncodeOptions, encodeModel, MAX_PROTO_BYTES } from './encode.js';
export { type LoadOptions, loadModel, type SaveOptions, saveModel, sourceFilesOf } from './files.js';
export { readRegularFile } from './regular-file.js';
export {
  compareTensors,
  type DirectoryResult,
  type ExecuteFn,
  type OutputResult,
  type ReferenceFn,
  type RunOptions,
  runTestDirectories,
  runTestDirectory,
} from './runner.js';
export {
  checkExternalLocation,
  DEFAULT_MAX_TENSOR_BYTES,
  deriveStorage,
  type ExternalSink,
  LAZY_MIN_BYTES,
  type LazySource,
  type OpaqueData,
  OpaqueTensor,
  onnxTensorInfo,
  setOnnxTensorInfo,
  type TensorOrigin,
  type TensorReadOptions,
  tensorFromProto,
  tensorName,
  tensorToProto,
} from './tensor-proto.js';
