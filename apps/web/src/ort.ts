import { NormkitError, Tensor } from '@normkit/tensor';
import * as ort from 'onnxruntime-web/wasm';

/** A model loaded into onnxruntime-web (WebAssembly, one thread), ready to run repeatedly. */
export interface OrtRunner {
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

/**
 * Points onnxruntime-web at its WebAssembly file served by this page (never a CDN) and keeps it on
 * one thread without a proxy worker (no cross-origin isolation needed).
 *
 * @example configureOrt(new URL('./assets/ort-wasm-simd-threaded.wasm', location.href).href);
 */
export function configureOrt(wasmUrl: string): void {
  ort.env.wasm.wasmPaths = { wasm: wasmUrl };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
}

/** The onnxruntime-web version, for tables. @example ortVersion() // '1.30.0' */
export function ortVersion(): string {
  return ort.env.versions?.common ?? '';
}

/**
 * Loads encoded model bytes into onnxruntime-web. A model it refuses is a `NormkitError`
 * (`ORT_REFUSED`) with onnxruntime's reason.
 *
 * @example
 * ```ts
 * const r = await createOrtRunner(bytes);
 * const outputs = await r.run(feeds);
 * ```
 */
export async function createOrtRunner(bytes: Uint8Array): Promise<OrtRunner> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      logSeverityLevel: 3,
    });
  } catch (e) {
    throw new NormkitError('ORT_REFUSED', `onnxruntime-web refused the model: ${firstLine(e)}`);
  }
  return {
    async run(feeds) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const name of session.inputNames) {
        const t = feeds[name];
        if (!t) throw new NormkitError('MISSING_INPUT', `onnxruntime-web: no value for input "${name}"`);
        inputs[name] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
      }
      let res: ort.InferenceSession.OnnxValueMapType;
      try {
        res = await session.run(inputs);
      } catch (e) {
        throw new NormkitError('ORT_FAILED', `onnxruntime-web failed to run the model: ${firstLine(e)}`);
      }
      const out: Record<string, Tensor> = {};
      for (const name of session.outputNames) {
        const o = res[name] as ort.Tensor | undefined;
        if (o) out[name] = fromOrt(o);
      }
      return out;
    },
    async release() {
      await session.release();
    },
  };
}

function fromOrt(o: ort.Tensor): Tensor {
  const shape = o.dims.map(Number);
  switch (o.type) {
    case 'float32':
    case 'float64':
    case 'int32':
    case 'int64':
      return new Tensor(shape, o.type, o.data as Float32Array);
    case 'bool':
      return new Tensor(shape, 'bool', Uint8Array.from(o.data as ArrayLike<number>));
    default:
      return new Tensor(shape, 'float32', Float32Array.from(o.data as ArrayLike<number>, Number));
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}
