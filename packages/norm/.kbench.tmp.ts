import { Tensor } from '@normkit/tensor';
import { layerNorm, rmsNorm } from './src/index.ts';
const x = Tensor.randn([128, 768], 1); const g = Tensor.randn([768], 2); const b = Tensor.randn([768], 3);
const t = (f: () => unknown) => { for (let i = 0; i < 50; i++) f(); const s = []; for (let k = 0; k < 31; k++) { const t0 = performance.now(); for (let i = 0; i < 20; i++) f(); s.push((performance.now() - t0) / 20); } s.sort((a, b) => a - b); return s[15]!; };
for (let rep = 0; rep < 3; rep++) { const ln = t(() => layerNorm(x, { scale: g, bias: b })); const rms = t(() => rmsNorm(x, { scale: g, bias: b })); const src = x.data as Float32Array; const dst = new Float32Array(src.length); const cp = t(() => dst.set(src)); console.log(`LN ${(ln*1000).toFixed(1)}us RMS ${(rms*1000).toFixed(1)}us ratio ${(ln/rms).toFixed(2)} copy ${(cp*1000).toFixed(1)}us`); }
