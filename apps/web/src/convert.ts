import { foldLayerNorms, type Model, randomInputs, verifyEquivalence } from '@normkit/graph';
import { encodeModel } from '@normkit/onnx';
import { NormkitError, type Tensor } from '@normkit/tensor';
import { compareOutputs, mergeWorst, TOLERANCE, withinTolerance } from './compare.js';
import { createOrtRunner, ortVersion } from './ort.js';
import type { ConvertInfo, EngineVerification, RmsFormat } from './protocol.js';

/** Reports how far a long job is (0..1) and what it is doing. */
export type Progress = (fraction: number, label: string) => void;

/** Seeded random input sets the verification uses (the same as `normkit convert`: seeds 0 and 1). */
export const VERIFY_RUNS = 2;

/**
 * Folds the model's foldable LayerNorms into RMSNorm (`rmsFormat`), then verifies the result against
 * the original on seeded random inputs in the normkit executor and in onnxruntime-web, as
 * `normkit convert` does. `originalBytes` are what onnxruntime-web loads for the reference.
 *
 * @example
 * ```ts
 * const info = await convertAndVerify(model, bytes, 'gpt2.onnx', 'simplified', () => {});
 * info.folded; info.equivalent; info.bytes; // the converted .onnx
 * ```
 */
export async function convertAndVerify(
  model: Model,
  originalBytes: Uint8Array,
  label: string,
  rmsFormat: RmsFormat,
  progress: Progress,
): Promise<{ info: ConvertInfo; converted: Model }> {
  progress(0.05, 'folding LayerNorms');
  const folded = foldLayerNorms(model, { rmsFormat, force: true, verify: false });
  const { report } = folded;
  const analysis = report.analysis.layerNorms;
  if (report.folded.length === 0) {
    const first = analysis.find((l) => !l.foldable);
    throw new NormkitError(
      analysis.length === 0 ? 'NO_LAYERNORM' : 'NOTHING_FOLDABLE',
      analysis.length === 0
        ? `${label}: no LayerNorm to fold (no LayerNormalization node and no decomposed LayerNorm subgraph)`
        : `${label}: no LayerNorm to fold: none of its ${analysis.length} LayerNorms is foldable (first: "${first?.name}": ${first?.reason.split('; path: ')[0]})`,
    );
  }
  progress(0.25, 'writing the converted model');
  const bytes = encodeModel(folded.model);
  const verification: EngineVerification[] = [];
  const skipped: { engine: string; reason: string }[] = [];
  progress(0.3, 'verifying in the normkit executor');
  await tick();
  try {
    const v = verifyEquivalence(model, folded.model, { seed: 0, runs: VERIFY_RUNS, tolerance: TOLERANCE });
    verification.push({ engine: 'normkit-cpu', equivalent: v.equivalent, outputs: v.outputs });
  } catch (e) {
    skipped.push({ engine: 'normkit-cpu', reason: message(e) });
  }
  progress(0.6, `verifying in onnxruntime-web ${ortVersion()}`);
  await tick();
  const feeds = Array.from({ length: VERIFY_RUNS }, (_, r) => randomInputs(model, r));
  const ort = await verifyInOrt(originalBytes, bytes, feeds);
  if ('skipped' in ort) skipped.push({ engine: 'onnxruntime-web', reason: ort.skipped });
  else verification.push(ort);
  progress(1, 'done');
  const hist = (m: Model) => m.graph.nodes.length;
  return {
    converted: folded.model,
    info: {
      rmsFormat,
      layerNorms: analysis.length,
      folded: report.folded.length,
      components: new Set(report.folded.map((f) => f.component)).size,
      nodes: { before: hist(model), after: hist(folded.model) },
      verification,
      skipped,
      equivalent: verification.length > 0 && verification.every((v) => v.equivalent),
      tolerance: TOLERANCE,
      inputs: Object.entries(feeds[0] ?? {})
        .map(([n, t]) => `${n} ${t.dtype}[${t.shape.join('×')}]`)
        .join(', '),
      kept: analysis.filter((l) => !l.foldable).map((l) => ({ name: l.name, reason: l.reason.split('; path: ')[0] ?? '' })),
      fileName: `${label
        .replace(/\.onnx$/i, '')
        .replace(/^zoo:/, '')
        .replace(/[:/\\]/g, '-')}.rms.onnx`,
      bytes: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    },
  };
}

/**
 * Runs both models in onnxruntime-web on the same feeds and compares them. When onnxruntime-web
 * refuses or cannot run the original it cannot judge: the result is `skipped` with its reason.
 */
async function verifyInOrt(
  originalBytes: Uint8Array,
  convertedBytes: Uint8Array,
  feeds: Record<string, Tensor>[],
): Promise<EngineVerification | { skipped: string }> {
  let reference: Record<string, Tensor>[];
  try {
    const a = await createOrtRunner(originalBytes);
    try {
      reference = [];
      for (const f of feeds) reference.push(await a.run(f));
    } finally {
      await a.release();
    }
  } catch (e) {
    return { skipped: `could not run the original model, so it did not verify: ${message(e)}` };
  }
  try {
    const b = await createOrtRunner(convertedBytes);
    try {
      const rows = [];
      for (let i = 0; i < feeds.length; i++)
        rows.push(compareOutputs(reference[i] as Record<string, Tensor>, await b.run(feeds[i] as Record<string, Tensor>)));
      const outputs = mergeWorst(rows);
      return { engine: 'onnxruntime-web', equivalent: withinTolerance(outputs), outputs };
    } finally {
      await b.release();
    }
  } catch (e) {
    return { engine: 'onnxruntime-web', equivalent: false, outputs: [], error: message(e) };
  }
}

/** Lets the worker post its progress message before a long synchronous step. */
function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
