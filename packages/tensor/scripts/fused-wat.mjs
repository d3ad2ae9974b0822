// WebAssembly SIMD kernels of the CPU backend's fused ops (self-attention, GELU), written as
// WebAssembly text (WAT) by template. scripts/build-wasm.mjs writes the text to src/cpu/fused.wat (for
// review) and compiles it with wabt into src/cpu/fused-wasm.generated.ts.
//
// Exports (all addresses and strides in bytes, every matrix float32):
//   mm           C (+)= A·B for small matrices read in place: A[i, k] at a + i·ars + k·aks (so Aᵀ is
//                just other strides), B row-major with contiguous columns (N a multiple of 4), C row
//                stride ldc. 4×8 register tiles, then 1-row and 4-column edges; no packing, so it suits
//                the per-head products of attention (tens of rows and columns).
//   softmax      rows of scale·s → softmax in place over the first n columns; the lanes of the last
//                vector past n become 0.
//   softmaxGrad  dS = scale · P ⊙ (dP − Σⱼ P⊙dP) in place of dP, over whole vectors (P is 0 past n).
//   transpose    dst[c][r] = src[r][c].
//   gelu         y = x·Φ(x), Φ from erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
//   geluGrad     dx = dy·(Φ(x) + x·φ(x)), with Φ(x) = y/x from the forward's output y.
//   erf          y = erf(x) = sign(x)·(1 − erfc(|x|)), the same erfc.
//   sigmoid      y = 1 / (1 + e^(−x)).
//   depthwise    planes of a stride-1, dilation-1 depthwise convolution (one filter per plane, y
//                zeroed by the caller): every tap is a multiply-add over the run of an output row that
//                reads inside the input, the run's bounds per kernel column given at $lohi.
// exp is Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial): about 1 ulp.

/** WAT expression helpers (shared with scripts/nbits-wat.mjs). */
export const I = (n) => `(i32.const ${n})`;
const F = (x) => `(f32x4.splat (f32.const ${x}))`;
export const get = (n) => `(local.get $${n})`;
export const set = (n, e) => `(local.set $${n} ${e})`;
export const add = (a, b) => `(i32.add ${a} ${b})`;
export const mul = (a, b) => `(i32.mul ${a} ${b})`;
export const vadd = (a, b) => `(f32x4.add ${a} ${b})`;
export const vmul = (a, b) => `(f32x4.mul ${a} ${b})`;
const shuffle = (lanes, a, b) => `(i8x16.shuffle ${lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(' ')} ${a} ${b})`;
/** Every lane of `v` set to the reduction `op` (f32x4.add / f32x4.max) of its four lanes. */
const allLanes = (op, v) => {
  const h = `(${op} ${v} ${shuffle([2, 3, 0, 1], v, v)})`;
  return `(${op} ${h} ${shuffle([1, 0, 3, 2], h, h)})`;
};

/** Declarations of the locals `expLines` with prefix `p` uses. */
const expLocals = (p) => `(local $${p}t v128) (local $${p}n v128) (local $${p}r v128) (local $${p}q v128)`;
/** 1.5·2²³: adding it rounds a float32 of magnitude < 2²² to an integer, held in the low mantissa bits. */
const MAGIC = 12582912;

/**
 * Lines setting local `out` = e^(expression `x`) lanewise, inline (Cephes expf: x = n·ln2 + r, a
 * degree-6 polynomial in r, times 2ⁿ built in the exponent bits), inputs clamped to [−87.33, 88.37].
 * n is rounded by adding 1.5·2²³, whose bit pattern then holds n as an integer.
 */
function expLines(L, ind, x, out, p) {
  const v = (n) => `$${p}${n}`;
  L.push(`${ind}(local.set ${v('r')} (f32x4.pmin (f32x4.pmax ${x} ${F(-87.33654)}) ${F(88.37626)}))`);
  L.push(`${ind}(local.set ${v('t')} ${vadd(vmul(`(local.get ${v('r')})`, F(Math.LOG2E)), F(MAGIC))})`);
  L.push(`${ind}(local.set ${v('n')} (f32x4.sub (local.get ${v('t')}) ${F(MAGIC)}))`);
  const n = `(local.get ${v('n')})`;
  L.push(
    `${ind}(local.set ${v('r')} (f32x4.sub (f32x4.sub (local.get ${v('r')}) ${vmul(n, F(0.693359375))}) ${vmul(n, F(-2.1219444e-4))}))`,
  );
  const r = `(local.get ${v('r')})`;
  let poly = F(1.98756915e-4);
  for (const c of [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]) poly = vadd(vmul(poly, r), F(c));
  L.push(`${ind}(local.set ${v('q')} ${vadd(vadd(vmul(poly, vmul(r, r)), r), F(1))})`);
  // 2ⁿ: (bits(t) − bits(1.5·2²³) + 127) << 23.
  const pow2 = `(i32x4.shl (i32x4.sub (local.get ${v('t')}) (i32x4.splat ${I(0x4b400000 - 127)})) ${I(23)})`;
  L.push(`${ind}(local.set $${out} ${vmul(`(local.get ${v('q')})`, pow2)})`);
}

/** Declarations of the locals `erfcLines` with suffix `s` uses. */
const erfcLocals = (s) => `(local $z${s} v128) (local $u${s} v128) (local $e${s} v128) ${expLocals(`x${s}`)}`;
/** Lines setting local $e<s> = erfc(|local $x<s>|·scale) lanewise, Numerical Recipes' erfc (relative error < 1.2e-7). */
function erfcLines(L, ind, scale, s) {
  const c = [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223];
  const absX = `(f32x4.abs ${get(`x${s}`)})`;
  L.push(`${ind}${set(`z${s}`, scale === 1 ? absX : vmul(absX, F(scale)))}`);
  L.push(`${ind}${set(`u${s}`, `(f32x4.div ${F(1)} ${vadd(F(1), vmul(F(0.5), get(`z${s}`)))})`)}`);
  let poly = F(c[0]);
  for (const k of c.slice(1)) poly = vadd(vmul(poly, get(`u${s}`)), F(k));
  // erfc(z) = u·exp(−z² − 1.26551223 + u·P(u)).
  expLines(L, ind, `(f32x4.sub ${poly} ${vmul(get(`z${s}`), get(`z${s}`))})`, `e${s}`, `x${s}`);
  L.push(`${ind}${set(`e${s}`, vmul(get(`u${s}`), get(`e${s}`)))}`);
}

/** Lines setting local `out` = Φ(local $x<s>) lanewise (standard normal CDF): 1 − erfc(|x|/√2)/2 for x ≥ 0, erfc/2 below. */
function phiLines(L, ind, out, s) {
  erfcLines(L, ind, Math.SQRT1_2, s);
  L.push(`${ind}${set(`e${s}`, vmul(get(`e${s}`), F(0.5)))}`);
  L.push(`${ind}${set(out, `(v128.bitselect (f32x4.sub ${F(1)} ${get(`e${s}`)}) ${get(`e${s}`)} (f32x4.ge ${get(`x${s}`)} ${F(0)}))`)}`);
}

/** Vectors an elementwise loop step computes: independent chains the CPU overlaps (each alone is a long chain of dependent operations: sigmoid ran 2.4× faster with 2). */
const UNROLL = 4;

/**
 * An elementwise loop over $n4 vectors: UNROLL vectors a step, then one at a time. `body(L, s, off)`
 * pushes the lines of one vector at byte offset `off` from each pointer, with locals suffixed `s`
 * (declare them for every suffix with `unrolledLocals`); `ptrs` are the pointers the loop advances.
 */
function vectorLoop(L, ptrs, body) {
  const step = (n) => `      ${ptrs.map((p) => set(p, add(get(p), I(16 * n)))).join(' ')} ${set('i', add(get('i'), I(n)))}`;
  L.push(`    (block $d (loop $l (br_if $d (i32.gt_u ${add(get('i'), I(UNROLL))} ${get('n4')}))`);
  for (let u = 0; u < UNROLL; u++) body(L, String(u), u * 16);
  L.push(`${step(UNROLL)} (br $l)))`);
  L.push(`    (block $t (loop $tl (br_if $t (i32.ge_u ${get('i')} ${get('n4')}))`);
  body(L, '0', 0);
  L.push(`${step(1)} (br $tl)))`);
}

/** `locals(s)` for every suffix `vectorLoop` uses. */
const unrolledLocals = (locals) => Array.from({ length: UNROLL }, (_, u) => locals(String(u))).join(' ');

/** $mkRxV: an R-row × 4V-column tile of C over K (see `mm`). */
function microKernel(L, R, V) {
  L.push(
    `  (func $mk${R}x${V} (param $a i32) (param $ars i32) (param $aks i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32) (param $K i32) (param $acc i32)`,
  );
  L.push('    (local $k i32) (local $av v128)');
  for (let v = 0; v < V; v++) L.push(`    (local $b${v} v128)`);
  for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) L.push(`    (local $c${r}_${v} v128)`);
  for (let r = 1; r < R; r++) L.push(`    (local $a${r} i32) (local $cr${r} i32)`);
  for (let r = 1; r < R; r++) {
    L.push(`    ${set(`a${r}`, add(get('a'), mul(get('ars'), I(r))))}`);
    L.push(`    ${set(`cr${r}`, add(get('c'), mul(get('ldc'), I(r))))}`);
  }
  const aPtr = (r) => (r === 0 ? get('a') : get(`a${r}`));
  const cPtr = (r) => (r === 0 ? get('c') : get(`cr${r}`));
  L.push(`    (if ${get('acc')} (then`);
  for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) L.push(`      ${set(`c${r}_${v}`, `(v128.load offset=${16 * v} ${cPtr(r)})`)}`);
  L.push('    ))');
  L.push(`    (block $done (loop $l`);
  L.push(`      (br_if $done (i32.ge_u ${get('k')} ${get('K')}))`);
  for (let v = 0; v < V; v++) L.push(`      ${set(`b${v}`, `(v128.load offset=${16 * v} ${get('b')})`)}`);
  for (let r = 0; r < R; r++) {
    L.push(`      ${set('av', `(v128.load32_splat ${aPtr(r)})`)}`);
    for (let v = 0; v < V; v++) L.push(`      ${set(`c${r}_${v}`, vadd(get(`c${r}_${v}`), vmul(get('av'), get(`b${v}`))))}`);
    L.push(`      ${set(r === 0 ? 'a' : `a${r}`, add(aPtr(r), get('aks')))}`);
  }
  L.push(`      ${set('b', add(get('b'), get('ldb')))}`);
  L.push(`      ${set('k', add(get('k'), I(1)))}`);
  L.push('      (br $l)))');
  for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) L.push(`    (v128.store offset=${16 * v} ${cPtr(r)} ${get(`c${r}_${v}`)})`);
  L.push('  )');
}

/** The export `mm`: 8-column blocks (4-row tiles, then single rows), then a 4-column block when N mod 8 = 4. */
function mmFunc(L) {
  L.push(
    '  (func (export "mm") (param $a i32) (param $ars i32) (param $aks i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32) (param $M i32) (param $N i32) (param $K i32) (param $acc i32)',
  );
  L.push('    (local $i i32) (local $j i32)');
  const rows = (V) => {
    const call = (R) =>
      `(call $mk${R}x${V} ${add(get('a'), mul(get('i'), get('ars')))} ${get('ars')} ${get('aks')} ${add(get('b'), mul(get('j'), I(4)))} ${get('ldb')} ${add(get('c'), add(mul(get('i'), get('ldc')), mul(get('j'), I(4))))} ${get('ldc')} ${get('K')} ${get('acc')})`;
    L.push(`      ${set('i', I(0))}`);
    L.push(
      `      (block $d4 (loop $l4 (br_if $d4 (i32.gt_u ${add(get('i'), I(4))} ${get('M')})) ${call(4)} ${set('i', add(get('i'), I(4)))} (br $l4)))`,
    );
    L.push(
      `      (block $d1 (loop $l1 (br_if $d1 (i32.ge_u ${get('i')} ${get('M')})) ${call(1)} ${set('i', add(get('i'), I(1)))} (br $l1)))`,
    );
  };
  L.push(`    (block $jd (loop $jl (br_if $jd (i32.gt_u ${add(get('j'), I(8))} ${get('N')}))`);
  rows(2);
  L.push(`      ${set('j', add(get('j'), I(8)))} (br $jl)))`);
  L.push(`    (if (i32.le_u ${add(get('j'), I(4))} ${get('N')}) (then`);
  rows(1);
  L.push('    ))');
  L.push('  )');
}

/** The export `softmax` (see the header). */
function softmaxFunc(L) {
  L.push('  (func (export "softmax") (param $s i32) (param $lds i32) (param $rows i32) (param $n i32) (param $scale f32)');
  L.push('    (local $r i32) (local $p i32) (local $end i32) (local $tail i32) (local $mask v128) (local $sc v128)');
  L.push(`    (local $m v128) (local $sum v128) (local $v v128) (local $inv v128) ${expLocals('x')}`);
  L.push(`    ${set('tail', `(i32.and ${get('n')} ${I(3)})`)}`);
  L.push(`    ${set('mask', `(i32x4.lt_s (v128.const i32x4 0 1 2 3) (i32x4.splat ${get('tail')}))`)}`);
  L.push(`    ${set('sc', `(f32x4.splat ${get('scale')})`)}`);
  L.push(`    (block $rd (loop $rl (br_if $rd (i32.ge_u ${get('r')} ${get('rows')}))`);
  L.push(`      ${set('p', add(get('s'), mul(get('r'), get('lds'))))}`);
  L.push(`      ${set('end', add(get('p'), `(i32.shl (i32.and ${get('n')} ${I(-4)}) ${I(2)})`))}`);
  // Row maximum.
  L.push(`      ${set('m', F('-inf'))}`);
  const loop = (name, body) => {
    L.push(`      (block $${name}d (loop $${name}l (br_if $${name}d (i32.ge_u ${get('p')} ${get('end')}))`);
    for (const line of body) L.push(`        ${line}`);
    L.push(`        ${set('p', add(get('p'), I(16)))} (br $${name}l)))`);
  };
  loop('max', [set('m', `(f32x4.max ${get('m')} (v128.load ${get('p')}))`)]);
  L.push(
    `      (if ${get('tail')} (then ${set('m', `(f32x4.max ${get('m')} (v128.bitselect (v128.load ${get('p')}) ${F('-inf')} ${get('mask')}))`)}))`,
  );
  L.push(`      ${set('m', vmul(allLanes('f32x4.max', get('m')), get('sc')))}`);
  // exp(scale·s − max), stored, summed.
  L.push(`      ${set('p', add(get('s'), mul(get('r'), get('lds'))))}`);
  L.push(`      ${set('sum', F(0))}`);
  const arg = `(f32x4.sub ${vmul(`(v128.load ${get('p')})`, get('sc'))} ${get('m')})`;
  const expBody = [];
  expLines(expBody, '', arg, 'v', 'x');
  loop('exp', [...expBody, `(v128.store ${get('p')} ${get('v')})`, set('sum', vadd(get('sum'), get('v')))]);
  L.push(`      (if ${get('tail')} (then`);
  expLines(L, '        ', arg, 'v', 'x');
  L.push(
    `        ${set('v', `(v128.and ${get('v')} ${get('mask')})`)} (v128.store ${get('p')} ${get('v')}) ${set('sum', vadd(get('sum'), get('v')))}))`,
  );
  L.push(`      ${set('inv', `(f32x4.div ${F(1)} ${allLanes('f32x4.add', get('sum'))})`)}`);
  L.push(`      ${set('p', add(get('s'), mul(get('r'), get('lds'))))}`);
  L.push(`      (if ${get('tail')} (then ${set('end', add(get('end'), I(16)))}))`);
  loop('scale', [`(v128.store ${get('p')} ${vmul(`(v128.load ${get('p')})`, get('inv'))})`]);
  L.push(`      ${set('r', add(get('r'), I(1)))} (br $rl)))`);
  L.push('  )');
}

/** The export `softmaxGrad` (see the header): $nv vectors per row. */
function softmaxGradFunc(L) {
  L.push(
    '  (func (export "softmaxGrad") (param $pp i32) (param $dp i32) (param $ld i32) (param $rows i32) (param $nv i32) (param $scale f32)',
  );
  L.push('    (local $r i32) (local $i i32) (local $p i32) (local $q i32) (local $dot v128) (local $sc v128)');
  L.push(`    ${set('sc', `(f32x4.splat ${get('scale')})`)}`);
  L.push(`    (block $rd (loop $rl (br_if $rd (i32.ge_u ${get('r')} ${get('rows')}))`);
  L.push(`      ${set('p', add(get('pp'), mul(get('r'), get('ld'))))} ${set('q', add(get('dp'), mul(get('r'), get('ld'))))}`);
  L.push(`      ${set('dot', F(0))} ${set('i', I(0))}`);
  L.push(`      (block $ad (loop $al (br_if $ad (i32.ge_u ${get('i')} ${get('nv')}))`);
  const off = `(i32.shl ${get('i')} ${I(4)})`;
  L.push(`        ${set('dot', vadd(get('dot'), vmul(`(v128.load ${add(get('p'), off)})`, `(v128.load ${add(get('q'), off)})`)))}`);
  L.push(`        ${set('i', add(get('i'), I(1)))} (br $al)))`);
  L.push(`      ${set('dot', allLanes('f32x4.add', get('dot')))} ${set('i', I(0))}`);
  L.push(`      (block $bd (loop $bl (br_if $bd (i32.ge_u ${get('i')} ${get('nv')}))`);
  L.push(
    `        (v128.store ${add(get('q'), off)} ${vmul(vmul(`(f32x4.sub (v128.load ${add(get('q'), off)}) ${get('dot')})`, `(v128.load ${add(get('p'), off)})`), get('sc'))})`,
  );
  L.push(`        ${set('i', add(get('i'), I(1)))} (br $bl)))`);
  L.push(`      ${set('r', add(get('r'), I(1)))} (br $rl)))`);
  L.push('  )');
}

/** The export `transpose`: dst[c][r] = src[r][c] (row strides srs, lds). */
function transposeFunc(L) {
  L.push(
    '  (func (export "transpose") (param $src i32) (param $srs i32) (param $dst i32) (param $lds i32) (param $rows i32) (param $cols i32)',
  );
  L.push('    (local $r i32) (local $c i32) (local $s i32) (local $d i32)');
  L.push(`    (block $rd (loop $rl (br_if $rd (i32.ge_u ${get('r')} ${get('rows')}))`);
  L.push(
    `      ${set('s', add(get('src'), mul(get('r'), get('srs'))))} ${set('d', add(get('dst'), `(i32.shl ${get('r')} ${I(2)})`))} ${set('c', I(0))}`,
  );
  L.push(`      (block $cd (loop $cl (br_if $cd (i32.ge_u ${get('c')} ${get('cols')}))`);
  L.push(`        (f32.store ${get('d')} (f32.load ${get('s')}))`);
  L.push(`        ${set('s', add(get('s'), I(4)))} ${set('d', add(get('d'), get('lds')))} ${set('c', add(get('c'), I(1)))} (br $cl)))`);
  L.push(`      ${set('r', add(get('r'), I(1)))} (br $rl)))`);
  L.push('  )');
}

/** The exports `gelu` and `geluGrad` over $n4 vectors (dx may be x, y or dy). */
function geluFuncs(L) {
  const x = (s) => `(local $x${s} v128) (local $f${s} v128)`;
  L.push(
    `  (func (export "gelu") (param $px i32) (param $py i32) (param $n4 i32) (local $i i32) ${unrolledLocals((s) => `${x(s)} ${erfcLocals(s)}`)}`,
  );
  vectorLoop(L, ['px', 'py'], (B, s, off) => {
    B.push(`      ${set(`x${s}`, `(v128.load offset=${off} ${get('px')})`)}`);
    phiLines(B, '      ', `f${s}`, s);
    B.push(`      (v128.store offset=${off} ${get('py')} ${vmul(get(`x${s}`), get(`f${s}`))})`);
  });
  L.push('  )');
  // The derivative reuses the forward's output: Φ(x) = y/x (1/2 where |x| < 1e-30, where y/x would lose
  // digits to subnormals and Φ rounds to 1/2 anyway), so only φ(x) = e^(−x²/2)/√(2π) is computed.
  L.push(
    `  (func (export "geluGrad") (param $px i32) (param $py i32) (param $pdy i32) (param $pdx i32) (param $n4 i32) (local $i i32) ${unrolledLocals((s) => `${x(s)} (local $g${s} v128) ${expLocals(`g${s}`)}`)}`,
  );
  vectorLoop(L, ['px', 'py', 'pdy', 'pdx'], (B, s, off) => {
    const [xs, fs, gs] = [get(`x${s}`), get(`f${s}`), get(`g${s}`)];
    B.push(`      ${set(`x${s}`, `(v128.load offset=${off} ${get('px')})`)}`);
    const tiny = `(f32x4.lt (f32x4.abs ${xs}) ${F(1e-30)})`;
    B.push(`      ${set(`f${s}`, `(v128.bitselect ${F(0.5)} (f32x4.div (v128.load offset=${off} ${get('py')}) ${xs}) ${tiny})`)}`);
    expLines(B, '      ', vmul(vmul(xs, xs), F(-0.5)), `g${s}`, `g${s}`);
    const pdf = vmul(gs, F(1 / Math.sqrt(2 * Math.PI)));
    B.push(`      (v128.store offset=${off} ${get('pdx')} ${vmul(`(v128.load offset=${off} ${get('pdy')})`, vadd(fs, vmul(xs, pdf)))})`);
  });
  L.push('  )');
}

/** The export `erf` over $n4 vectors: sign(x)·(1 − erfc(|x|)); y may be x. */
function erfFunc(L) {
  L.push(
    `  (func (export "erf") (param $px i32) (param $py i32) (param $n4 i32) (local $i i32) ${unrolledLocals((s) => `(local $x${s} v128) ${erfcLocals(s)}`)}`,
  );
  vectorLoop(L, ['px', 'py'], (B, s, off) => {
    B.push(`      ${set(`x${s}`, `(v128.load offset=${off} ${get('px')})`)}`);
    erfcLines(B, '      ', 1, s);
    const one = `(f32x4.sub ${F(1)} ${get(`e${s}`)})`;
    B.push(`      (v128.store offset=${off} ${get('py')} (v128.bitselect ${one} (f32x4.neg ${one}) (f32x4.ge ${get(`x${s}`)} ${F(0)})))`);
  });
  L.push('  )');
}

/** The export `sigmoid` over $n4 vectors: 1 / (1 + e^(−x)); y may be x. */
function sigmoidFunc(L) {
  L.push(
    `  (func (export "sigmoid") (param $px i32) (param $py i32) (param $n4 i32) (local $i i32) ${unrolledLocals((s) => `(local $e${s} v128) ${expLocals(`e${s}`)}`)}`,
  );
  vectorLoop(L, ['px', 'py'], (B, s, off) => {
    expLines(B, '      ', `(f32x4.neg (v128.load offset=${off} ${get('px')}))`, `e${s}`, `e${s}`);
    B.push(`      (v128.store offset=${off} ${get('py')} (f32x4.div ${F(1)} ${vadd(F(1), get(`e${s}`))}))`);
  });
  L.push('  )');
}

/**
 * The export `depthwise`: $planes planes x [H, W] (consecutive), filters w [kh, kw] (consecutive), into
 * y [oh, ow] (consecutive, zeroed); stride 1, dilation 1, padding $pt/$pl. $lohi holds 2·kw int32: the
 * first output column and the end of the run of output columns that kernel column kx reads inside the
 * input.
 */
function depthwiseFunc(L) {
  const params = ['x', 'w', 'y', 'planes', 'H', 'W', 'kh', 'kw', 'oh', 'ow', 'pt', 'pl', 'lohi'].map((n) => `(param $${n} i32)`).join(' ');
  const locals = ['p', 'oy', 'ky', 'kx', 'iy', 'row', 'yrow', 'ox', 'hi', 'at'].map((n) => `(local $${n} i32)`).join(' ');
  L.push(`  (func (export "depthwise") ${params} ${locals} (local $ws f32) (local $wv v128)`);
  L.push(`    (block $pd (loop $pl_ (br_if $pd (i32.ge_u ${get('p')} ${get('planes')}))`);
  L.push(`      ${set('oy', I(0))}`);
  L.push(`      (block $od (loop $ol (br_if $od (i32.ge_u ${get('oy')} ${get('oh')}))`);
  L.push(`        ${set('yrow', add(get('y'), mul(mul(get('oy'), get('ow')), I(4))))} ${set('ky', I(0))}`);
  L.push(`        (block $yd (loop $yl (br_if $yd (i32.ge_u ${get('ky')} ${get('kh')}))`);
  L.push(`          ${set('iy', `(i32.sub ${add(get('oy'), get('ky'))} ${get('pt')})`)}`);
  // An input row outside [0, H) (the padding) adds nothing; the unsigned compare also catches iy < 0.
  L.push(`          (if (i32.lt_u ${get('iy')} ${get('H')}) (then`);
  L.push(`            ${set('row', add(get('x'), mul(mul(get('iy'), get('W')), I(4))))} ${set('kx', I(0))}`);
  L.push(`            (block $xd (loop $xl (br_if $xd (i32.ge_u ${get('kx')} ${get('kw')}))`);
  L.push(`              ${set('ws', `(f32.load ${add(get('w'), mul(add(mul(get('ky'), get('kw')), get('kx')), I(4)))})`)}`);
  L.push(`              ${set('wv', `(f32x4.splat ${get('ws')})`)}`);
  L.push(`              ${set('ox', `(i32.load ${add(get('lohi'), mul(get('kx'), I(4)))})`)}`);
  L.push(`              ${set('hi', `(i32.load ${add(get('lohi'), mul(add(get('kw'), get('kx')), I(4)))})`)}`);
  // x[iy][ox + kx − pl] is at `at` + 4·ox.
  L.push(`              ${set('at', add(get('row'), mul(`(i32.sub ${get('kx')} ${get('pl')})`, I(4))))}`);
  const ya = add(get('yrow'), mul(get('ox'), I(4)));
  const xa = add(get('at'), mul(get('ox'), I(4)));
  L.push(`              (block $vd (loop $vl (br_if $vd (i32.gt_s ${add(get('ox'), I(4))} ${get('hi')}))`);
  L.push(`                (v128.store ${ya} ${vadd(`(v128.load ${ya})`, vmul(get('wv'), `(v128.load ${xa})`))})`);
  L.push(`                ${set('ox', add(get('ox'), I(4)))} (br $vl)))`);
  L.push(`              (block $sd (loop $sl (br_if $sd (i32.ge_s ${get('ox')} ${get('hi')}))`);
  L.push(`                (f32.store ${ya} (f32.add (f32.load ${ya}) (f32.mul ${get('ws')} (f32.load ${xa}))))`);
  L.push(`                ${set('ox', add(get('ox'), I(1)))} (br $sl)))`);
  L.push(`              ${set('kx', add(get('kx'), I(1)))} (br $xl)))))`);
  L.push(`          ${set('ky', add(get('ky'), I(1)))} (br $yl)))`);
  L.push(`        ${set('oy', add(get('oy'), I(1)))} (br $ol)))`);
  L.push(`      ${set('x', add(get('x'), mul(mul(get('H'), get('W')), I(4))))}`);
  L.push(`      ${set('y', add(get('y'), mul(mul(get('oh'), get('ow')), I(4))))}`);
  L.push(`      ${set('w', add(get('w'), mul(mul(get('kh'), get('kw')), I(4))))}`);
  L.push(`      ${set('p', add(get('p'), I(1)))} (br $pl_)))`);
  L.push('  )');
}

/** The whole module's text (one ordinary imported memory). */
export function fusedWat() {
  const L = [';; Generated by scripts/build-wasm.mjs from scripts/fused-wat.mjs: do not edit; edit the generator and rerun it.'];
  L.push('(module');
  L.push('  (import "env" "memory" (memory 1))');
  for (const [R, V] of [
    [4, 2],
    [1, 2],
    [4, 1],
    [1, 1],
  ])
    microKernel(L, R, V);
  mmFunc(L);
  softmaxFunc(L);
  softmaxGradFunc(L);
  transposeFunc(L);
  geluFuncs(L);
  erfFunc(L);
  sigmoidFunc(L);
  depthwiseFunc(L);
  L.push(')');
  return `${L.join('\n')}\n`;
}
