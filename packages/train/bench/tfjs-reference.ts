// TensorFlow.js reference for the training benchmark: samples/s of the MLP (784-256-256-10 with
// LayerNorm, Adam, batch 128) trained with tfjs-layers on the wasm and cpu backends, on random data.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

/** Builds the benchmark MLP in tfjs-layers. */
function tfMlp(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [1, 28, 28] }));
  for (let i = 0; i < 2; i++) {
    m.add(tf.layers.dense({ units: 256 }));
    m.add(tf.layers.layerNormalization());
    m.add(tf.layers.reLU());
  }
  m.add(tf.layers.dense({ units: 10 }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
  return m;
}

/**
 * Samples/s of `steps` training steps of the MLP on `backend` ('wasm' | 'cpu') after `warmup` steps,
 * per wall-clock second (`wall`) and per second of this process's CPU time (`cpu`).
 * @example (await tfjsMlpRate('wasm', 1, 10)).wall
 */
export async function tfjsMlpRate(
  backend: 'wasm' | 'cpu',
  threads: number,
  steps: number,
  warmup = 2,
): Promise<{ wall: number; cpu: number }> {
  if (backend === 'wasm') setThreadsCount(threads);
  await tf.setBackend(backend);
  await tf.ready();
  const batch = 128;
  const model = tfMlp();
  const x = tf.randomUniform([batch, 1, 28, 28]);
  const y = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => i % 10),
    'float32',
  );
  for (let i = 0; i < warmup; i++) await model.trainOnBatch(x, y);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  const c = process.cpuUsage(c0);
  const wall = (batch * steps) / ((performance.now() - t0) / 1000);
  const cpu = (batch * steps) / ((c.user + c.system) / 1e6);
  model.dispose();
  x.dispose();
  y.dispose();
  return { wall, cpu };
}
