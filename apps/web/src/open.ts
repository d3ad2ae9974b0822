import type { Model } from '@normkit/graph';
import { decodeModel } from '@normkit/onnx';
import { NormkitError } from '@normkit/tensor';

/**
 * Decodes an .onnx file opened in the page. External-data files are looked up by name among the files
 * opened with it (a folder, or several files dropped together); a missing one is a `NormkitError`
 * (`EXTERNAL_DATA_MISSING`) that says which file to add.
 *
 * @example
 * ```ts
 * const model = openModelBytes('bert.onnx', bytes, { 'bert.onnx.data': data });
 * ```
 */
export function openModelBytes(name: string, bytes: Uint8Array, external: Record<string, Uint8Array> = {}): Model {
  if (bytes.length === 0) throw new NormkitError('NOT_ONNX', `${name}: not an ONNX model (the file is empty)`);
  const externalData = (location: string): Uint8Array => {
    const found = external[location] ?? external[location.split('/').pop() ?? location];
    if (found) return found;
    throw new NormkitError(
      'EXTERNAL_DATA_MISSING',
      `${name}: its weights are kept in the external file "${location}", which was not opened with it. Open the model's folder ("Open a folder"), or drop ${name} together with ${location}.`,
      { file: name, location },
    );
  };
  return decodeModel(bytes, { fileName: name, externalData });
}
