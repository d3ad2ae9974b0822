import { Tensor, layerNormKernel, rmsNormKernel, getBackend } from '@normkit/tensor';
const x = Tensor.randn([128, 768], 1); const g = Tensor.randn([768], 2); const b = Tensor.randn([768], 3);
const t = (f: () => unknown) => { for (let i = 0; i < 50; i++) f(); const s = []; for (let k = 0; k < 31; k++) { const t0 = performance.now(); for (let i = 0; i < 20; i++) f(); s.push((performance.now() - t0) / 20); } s.sort((a, b) => a - b); return s[15]!; };
const X = x.data as Float32Array; const Y = new Float32Array(X.length); const G = g.data as Float32Array; const B = b.data as Float32Array;
function hand() { for (let r = 0; r < 128; r++) { const off = r * 768; let s = 0, q = 0; for (let j = 0; j < 768; j++) { const v = X[off + j]!; s += v; q += v * v; } const mu = s / 768; const inv = 1 / Math.sqrt(q / 768 - mu * mu + 1e-5); for (let j = 0; j < 768; j++) Y[off + j] = (X[off + j]! - mu) * inv * G[j]! + B[j]!; } }
console.log('backend', getBackend().name);
for (let rep = 0; rep < 2; rep++) {
  console.log('hand', (t(hand) * 1000).toFixed(1), 'kernelLN', (t(() => layerNormKernel(x, g, b, -1, 1e-5)) * 1000).toFixed(1), 'kernelRMS', (t(() => rmsNormKernel(x, g, b, -1, 1e-5)) * 1000).toFixed(1), 'alloc', (t(() => new Float32Array(98304)) * 1000).toFixed(1));
}
