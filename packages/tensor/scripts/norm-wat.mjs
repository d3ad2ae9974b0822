// WebAssembly SIMD LayerNorm / RMSNorm kernels of the CPU backend, written as WebAssembly text (WAT)
// by template. scripts/build-wasm.mjs writes the text to src/cpu/norm.wat (for review) and compiles it
// with wabt into src/cpu/norm-wasm.generated.ts.
//
// Both kernels work on `rows` contiguous rows of `d` float32 values (the trailing normalized axes):
//   ln:  one reduction pass per row for Σ(x − s) and Σ(x − s)² (shifted sums, s ≈ the row's mean),
//        then one write pass y = (x − μ)·rstd·γ + β.
//   rms: one reduction pass for Σx², then one write pass y = x·rstd·γ + β.
// Reductions load f32x4 vectors into f32x4 partial sums over short blocks (BLOCK·16 floats) and add
// each block's partial sums into float64 accumulators, so rounding grows with the block length, not
// with d. LayerNorm's variance is Q/n − m² with m = S/n the mean of x − s; its relative error is about
// (block roundings)·u·(1 + m²/var), so when the shift turns out far from the mean (m² > 8·var: an
// outlier among the first elements, or a constant row) the row's sums are taken once more around the
// mean just found — the only case with a third pass. The mean is then carried into the write pass as
// two float32 values (μ = μhi + μlo), so data with a large mean (x = 1e4 + noise) keeps its accuracy
// after the subtraction; μlo is dropped when it cannot change y (|μlo|·rstd ≤ 2⁻²²).
// γ and β are optional (flags bit 0 = scale, bit 1 = bias); each combination has its own write loop.

/** Iterations of 16 floats summed in float32 before the partial sums move to float64. */
export const BLOCK = 4;

const I = (n) => `(i32.const ${n})`;
const get = (n) => `(local.get $${n})`;

/**
 * The reduction over one row at $p (d floats), into float64 globals: LayerNorm's shifted sums
 * (`shift`: $S = Σ(x − s), $Q = Σ(x − s)²) or RMSNorm's $Q = Σx². With `grad` the backward pass's
 * sums come along in the same pass: ĝ = dy·γ (dy at $q, γ at $g when `scale`), $P = Σĝ·(x − s) (or
 * Σĝ·x) and, with `shift`, $G = Σĝ. `unroll` vectors per iteration, each with its own partial sums;
 * every BLOCK·16 floats the f32x4 partial sums move into float64.
 */
export function sums(L, name, { shift, grad = false, scale = false, unroll = 4 }) {
  const terms = [
    ...(shift ? [['a', 'S', (k) => `(local.get $t${k})`]] : []),
    ['q', 'Q', (k) => `(f32x4.mul (local.get $t${k}) (local.get $t${k}))`],
    ...(grad && shift ? [['c', 'G', (k) => `(local.get $h${k})`]] : []),
    ...(grad ? [['e', 'P', (k) => `(f32x4.mul (local.get $h${k}) (local.get $t${k}))`]] : []),
  ];
  const step = 4 * unroll; // floats per iteration
  const what = terms.map(
    ([, g]) => `${g} = ${{ S: 'Σ(x − s)', Q: shift ? 'Σ(x − s)²' : 'Σx²', G: 'Σĝ', P: shift ? 'Σĝ(x − s)' : 'Σĝx' }[g]}`,
  );
  L.push(`  ;; ${what.join(', ')} over the d floats at $p (globals ${terms.map(([, g]) => `$${g}`).join(', ')}).`);
  const params = `(param $p i32)${grad ? ` (param $q i32)${scale ? ' (param $g i32)' : ''}` : ''} (param $d i32)${shift ? ' (param $s f32)' : ''}`;
  L.push(`  (func $${name} ${params}`);
  L.push(`    (local $end${step} i32) (local $end4 i32) (local $end i32) (local $blk i32) (local $sv v128) (local $t v128)`);
  L.push(
    `    ${terms.map(([, g]) => `(local $${g}64 v128)`).join(' ')} ${terms.map(([, g]) => `(local $s${g} f64)`).join(' ')} (local $e f64)${grad ? ' (local $hh f64)' : ''}`,
  );
  for (let k = 0; k < unroll; k++)
    L.push(`    ${terms.map(([v]) => `(local $${v}${k} v128)`).join(' ')} (local $t${k} v128)${grad ? ` (local $h${k} v128)` : ''}`);
  if (shift) L.push('    (local.set $sv (f32x4.splat (local.get $s)))');
  L.push(`    (local.set $end${step} (i32.add ${get('p')} (i32.shl (i32.and ${get('d')} ${I(-step)}) ${I(2)})))`);
  L.push(`    (local.set $end4 (i32.add ${get('p')} (i32.shl (i32.and ${get('d')} ${I(-4)}) ${I(2)})))`);
  L.push(`    (local.set $end (i32.add ${get('p')} (i32.shl ${get('d')} ${I(2)})))`);
  // Flushes f32x4 partial sums (K < n) into the float64 accumulators: a pairwise tree, then both halves.
  const tree = (v, lo, n) => (n === 1 ? `(local.get $${v}${lo})` : `(f32x4.add ${tree(v, lo, n / 2)} ${tree(v, lo + n / 2, n / 2)})`);
  const flush = (ind, n) => {
    for (const [v, g] of terms) {
      const acc = `${g}64`;
      L.push(`${ind}(local.set $t ${tree(v, 0, n)})`);
      L.push(`${ind}(local.set $${acc} (f64x2.add (local.get $${acc}) (f64x2.promote_low_f32x4 (local.get $t))))`);
      L.push(
        `${ind}(local.set $${acc} (f64x2.add (local.get $${acc}) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t)))))`,
      );
    }
  };
  const zero = (ind, n) => {
    for (let k = 0; k < n; k++) for (const [v] of terms) L.push(`${ind}(local.set $${v}${k} (v128.const i32x4 0 0 0 0))`);
  };
  // One vector at byte offset `off` from $p (and $q, $g) into partial sums k.
  const vec = (ind, k, off) => {
    const load = `(v128.load offset=${off} (local.get $p))`;
    L.push(`${ind}(local.set $t${k} ${shift ? `(f32x4.sub ${load} (local.get $sv))` : load})`);
    if (grad) {
      const dy = `(v128.load offset=${off} (local.get $q))`;
      L.push(`${ind}(local.set $h${k} ${scale ? `(f32x4.mul ${dy} (v128.load offset=${off} (local.get $g)))` : dy})`);
    }
    for (const [v, , e] of terms) L.push(`${ind}(local.set $${v}${k} (f32x4.add (local.get $${v}${k}) ${e(k)}))`);
  };
  const advance = (ind, bytes) => {
    for (const p of ['p', ...(grad ? ['q'] : []), ...(grad && scale ? ['g'] : [])])
      L.push(`${ind}(local.set $${p} (i32.add ${get(p)} ${I(bytes)}))`);
  };
  // Blocks of BLOCK·16 floats, `unroll` vectors per iteration (independent partial sums).
  L.push(`    (block $b${step} (loop $blocks`);
  L.push(`      (br_if $b${step} (i32.ge_u ${get('p')} ${get(`end${step}`)}))`);
  L.push(`      (local.set $blk (i32.add ${get('p')} ${I(BLOCK * 64)}))`);
  L.push(`      (if (i32.gt_u ${get('blk')} ${get(`end${step}`)}) (then (local.set $blk ${get(`end${step}`)})))`);
  zero('      ', unroll);
  L.push('      (loop $it');
  for (let k = 0; k < unroll; k++) vec('        ', k, k * 16);
  advance('        ', step * 4);
  L.push(`        (br_if $it (i32.lt_u ${get('p')} ${get('blk')})))`);
  flush('      ', unroll);
  L.push('      (br $blocks)))');
  // Remaining vectors (fewer than `unroll`).
  L.push(`    (if (i32.lt_u ${get('p')} ${get('end4')}) (then`);
  zero('      ', 1);
  L.push('      (loop $v');
  vec('        ', 0, 0);
  advance('        ', 16);
  L.push(`        (br_if $v (i32.lt_u ${get('p')} ${get('end4')})))`);
  flush('      ', 1);
  L.push('    ))');
  for (const [, g] of terms)
    L.push(`    (local.set $s${g} (f64.add (f64x2.extract_lane 0 (local.get $${g}64)) (f64x2.extract_lane 1 (local.get $${g}64))))`);
  // Up to three remaining floats, in float64.
  L.push(`    (block $tdone (loop $tail`);
  L.push(`      (br_if $tdone (i32.ge_u ${get('p')} ${get('end')}))`);
  L.push(
    `      (local.set $e (f64.promote_f32 ${shift ? `(f32.sub (f32.load (local.get $p)) (local.get $s))` : '(f32.load (local.get $p))'}))`,
  );
  if (grad)
    L.push(
      `      (local.set $hh (f64.promote_f32 ${scale ? '(f32.mul (f32.load (local.get $q)) (f32.load (local.get $g)))' : '(f32.load (local.get $q))'}))`,
    );
  const scalar = {
    S: '(local.get $e)',
    Q: '(f64.mul (local.get $e) (local.get $e))',
    G: '(local.get $hh)',
    P: '(f64.mul (local.get $hh) (local.get $e))',
  };
  for (const [, g] of terms) L.push(`      (local.set $s${g} (f64.add (local.get $s${g}) ${scalar[g]}))`);
  advance('      ', 4);
  L.push('      (br $tail)))');
  for (const [, g] of terms) L.push(`    (global.set $${g} (local.get $s${g}))`);
  L.push('  )');
}

/**
 * The statistics of the LayerNorm row at $px into locals $s (the shift, f32), $m (mean of x − s), $var
 * (≥ 0) and $mu = s + m (float64): the shift is the mean of the first four elements (the first element
 * of a shorter row); `call` (a WAT expression reading $s) sums the row into $S, $Q (and whatever else
 * it sums); when the shift turns out far from the mean (the variance would lose digits) the row is
 * summed once more around the mean just found.
 */
function shiftedStats(L, ind, call) {
  L.push(`${ind}(if (i32.ge_u ${get('d')} ${I(4)})`);
  L.push(`${ind}  (then (local.set $s (f32.demote_f64 (f64.mul (f64.const 0.25) (f64.add`);
  L.push(`${ind}    (f64.add (f64.promote_f32 (f32.load offset=0 (local.get $px))) (f64.promote_f32 (f32.load offset=4 (local.get $px))))`);
  L.push(
    `${ind}    (f64.add (f64.promote_f32 (f32.load offset=8 (local.get $px))) (f64.promote_f32 (f32.load offset=12 (local.get $px)))))))))`,
  );
  L.push(`${ind}  (else (local.set $s (f32.load (local.get $px)))))`);
  L.push(`${ind}${call}`);
  L.push(`${ind}(local.set $m (f64.div (global.get $S) (local.get $n)))`);
  L.push(`${ind}(local.set $var (f64.sub (f64.div (global.get $Q) (local.get $n)) (f64.mul (local.get $m) (local.get $m))))`);
  L.push(`${ind};; The shift is far from the mean (the variance would lose digits): sum once more around the mean.`);
  L.push(`${ind}(if (f64.gt (f64.mul (local.get $m) (local.get $m)) (f64.mul (f64.const 8) (local.get $var))) (then`);
  L.push(`${ind}  (local.set $s (f32.demote_f64 (f64.add (f64.promote_f32 (local.get $s)) (local.get $m))))`);
  L.push(`${ind}  ${call}`);
  L.push(`${ind}  (local.set $m (f64.div (global.get $S) (local.get $n)))`);
  L.push(`${ind}  (local.set $var (f64.sub (f64.div (global.get $Q) (local.get $n)) (f64.mul (local.get $m) (local.get $m))))))`);
  L.push(`${ind}(local.set $var (f64.max (local.get $var) (f64.const 0)))`);
  L.push(`${ind}(local.set $mu (f64.add (f64.promote_f32 (local.get $s)) (local.get $m)))`);
}

/**
 * One write loop over a row: y = ((x − μhi) − μlo)·r·γ + β (LayerNorm; `split` false drops μlo) or
 * y = x·r·γ + β (RMSNorm), γ and β when `g` / `b`. Four vectors per iteration, then single vectors,
 * then scalars. $x and $y may be the same address (in place).
 */
function writeLoop(L, name, ln, split, g, b) {
  L.push(
    `  (func $${name} (param $x i32) (param $y i32) (param $g i32) (param $b i32) (param $d i32) (param $mh f32) (param $ml f32) (param $r f32)`,
  );
  L.push('    (local $end16 i32) (local $end4 i32) (local $end i32) (local $vmh v128) (local $vml v128) (local $vr v128)');
  L.push(`    (local.set $end16 (i32.add ${get('x')} (i32.shl (i32.and ${get('d')} ${I(-16)}) ${I(2)})))`);
  L.push(`    (local.set $end4 (i32.add ${get('x')} (i32.shl (i32.and ${get('d')} ${I(-4)}) ${I(2)})))`);
  L.push(`    (local.set $end (i32.add ${get('x')} (i32.shl ${get('d')} ${I(2)})))`);
  if (ln) L.push('    (local.set $vmh (f32x4.splat (local.get $mh)))');
  if (ln && split) L.push('    (local.set $vml (f32x4.splat (local.get $ml)))');
  L.push('    (local.set $vr (f32x4.splat (local.get $r)))');
  const vexpr = (off) => {
    let e = `(v128.load offset=${off} (local.get $x))`;
    if (ln) e = `(f32x4.sub ${e} (local.get $vmh))`;
    if (ln && split) e = `(f32x4.sub ${e} (local.get $vml))`;
    e = `(f32x4.mul ${e} (local.get $vr))`;
    if (g) e = `(f32x4.mul ${e} (v128.load offset=${off} (local.get $g)))`;
    if (b) e = `(f32x4.add ${e} (v128.load offset=${off} (local.get $b)))`;
    return e;
  };
  const advance = (ind, bytes) => {
    for (const p of ['x', 'y', ...(g ? ['g'] : []), ...(b ? ['b'] : [])]) L.push(`${ind}(local.set $${p} (i32.add ${get(p)} ${I(bytes)}))`);
  };
  L.push(`    (block $d16 (loop $l16`);
  L.push(`      (br_if $d16 (i32.ge_u ${get('x')} ${get('end16')}))`);
  for (let k = 0; k < 4; k++) L.push(`      (v128.store offset=${k * 16} (local.get $y) ${vexpr(k * 16)})`);
  advance('      ', 64);
  L.push('      (br $l16)))');
  L.push(`    (block $d4 (loop $l4`);
  L.push(`      (br_if $d4 (i32.ge_u ${get('x')} ${get('end4')}))`);
  L.push(`      (v128.store (local.get $y) ${vexpr(0)})`);
  advance('      ', 16);
  L.push('      (br $l4)))');
  L.push(`    (block $d1 (loop $l1`);
  L.push(`      (br_if $d1 (i32.ge_u ${get('x')} ${get('end')}))`);
  let e = '(f32.load (local.get $x))';
  if (ln) e = `(f32.sub ${e} (local.get $mh))`;
  if (ln && split) e = `(f32.sub ${e} (local.get $ml))`;
  e = `(f32.mul ${e} (local.get $r))`;
  if (g) e = `(f32.mul ${e} (f32.load (local.get $g)))`;
  if (b) e = `(f32.add ${e} (f32.load (local.get $b)))`;
  L.push(`      (f32.store (local.get $y) ${e})`);
  advance('      ', 4);
  L.push('      (br $l1)))');
  L.push('  )');
}

/**
 * One write loop of the backward pass over a row: x̂ = ((x − μhi) − μlo)·r (LayerNorm, `center`) or
 * x·r, ĝ = dy·γ (γ when `scale`), dx = ĝ·A + x̂·B + C (C only when `center`); with `scale` the row adds
 * dy·x̂ into the f32 partial dγ at $pg, with `bias` dy into the partial dβ at $pb. $dx may be $dy.
 */
function writeBackward(L, name, center, scale, bias) {
  L.push(
    `  (func $${name} (param $x i32) (param $dy i32) (param $dx i32) (param $g i32) (param $pg i32) (param $pb i32) (param $d i32) (param $mh f32) (param $ml f32) (param $r f32) (param $A f32) (param $B f32) (param $C f32)`,
  );
  L.push('    (local $end16 i32) (local $end4 i32) (local $end i32) (local $vmh v128) (local $vml v128) (local $vr v128)');
  L.push('    (local $vA v128) (local $vB v128) (local $vC v128) (local $xs f32) (local $ds f32)');
  for (let k = 0; k < 4; k++) L.push(`    (local $xh${k} v128) (local $dv${k} v128)`);
  L.push(`    (local.set $end16 (i32.add ${get('x')} (i32.shl (i32.and ${get('d')} ${I(-16)}) ${I(2)})))`);
  L.push(`    (local.set $end4 (i32.add ${get('x')} (i32.shl (i32.and ${get('d')} ${I(-4)}) ${I(2)})))`);
  L.push(`    (local.set $end (i32.add ${get('x')} (i32.shl ${get('d')} ${I(2)})))`);
  const splat = center ? ['mh', 'ml', 'r', 'A', 'B', 'C'] : ['r', 'A', 'B'];
  for (const v of splat) L.push(`    (local.set $v${v} (f32x4.splat (local.get $${v})))`);
  // Vector k at byte offset `off`: x̂ and dy into locals, then dx, dγ and dβ.
  const vec = (ind, k, off) => {
    let xe = `(v128.load offset=${off} (local.get $x))`;
    if (center) xe = `(f32x4.sub (f32x4.sub ${xe} (local.get $vmh)) (local.get $vml))`;
    L.push(`${ind}(local.set $xh${k} (f32x4.mul ${xe} (local.get $vr)))`);
    L.push(`${ind}(local.set $dv${k} (v128.load offset=${off} (local.get $dy)))`);
    const gh = scale ? `(f32x4.mul (local.get $dv${k}) (v128.load offset=${off} (local.get $g)))` : `(local.get $dv${k})`;
    let dx = `(f32x4.add (f32x4.mul ${gh} (local.get $vA)) (f32x4.mul (local.get $xh${k}) (local.get $vB)))`;
    if (center) dx = `(f32x4.add ${dx} (local.get $vC))`;
    L.push(`${ind}(v128.store offset=${off} (local.get $dx) ${dx})`);
    if (scale)
      L.push(
        `${ind}(v128.store offset=${off} (local.get $pg) (f32x4.add (v128.load offset=${off} (local.get $pg)) (f32x4.mul (local.get $dv${k}) (local.get $xh${k}))))`,
      );
    if (bias)
      L.push(`${ind}(v128.store offset=${off} (local.get $pb) (f32x4.add (v128.load offset=${off} (local.get $pb)) (local.get $dv${k})))`);
  };
  const advance = (ind, bytes) => {
    const ptrs = ['x', 'dy', 'dx', ...(scale ? ['g', 'pg'] : []), ...(bias ? ['pb'] : [])];
    for (const p of ptrs) L.push(`${ind}(local.set $${p} (i32.add ${get(p)} ${I(bytes)}))`);
  };
  L.push('    (block $d16 (loop $l16');
  L.push(`      (br_if $d16 (i32.ge_u ${get('x')} ${get('end16')}))`);
  for (let k = 0; k < 4; k++) vec('      ', k, k * 16);
  advance('      ', 64);
  L.push('      (br $l16)))');
  L.push('    (block $d4 (loop $l4');
  L.push(`      (br_if $d4 (i32.ge_u ${get('x')} ${get('end4')}))`);
  vec('      ', 0, 0);
  advance('      ', 16);
  L.push('      (br $l4)))');
  // Up to three remaining floats: the same in f32 scalars (x̂ in $xs, dy in $ds).
  L.push('    (block $d1 (loop $l1');
  L.push(`      (br_if $d1 (i32.ge_u ${get('x')} ${get('end')}))`);
  let xe = '(f32.load (local.get $x))';
  if (center) xe = `(f32.sub (f32.sub ${xe} (local.get $mh)) (local.get $ml))`;
  L.push(`      (local.set $xs (f32.mul ${xe} (local.get $r)))`);
  L.push('      (local.set $ds (f32.load (local.get $dy)))');
  const gh = scale ? '(f32.mul (local.get $ds) (f32.load (local.get $g)))' : '(local.get $ds)';
  let dx = `(f32.add (f32.mul ${gh} (local.get $A)) (f32.mul (local.get $xs) (local.get $B)))`;
  if (center) dx = `(f32.add ${dx} (local.get $C))`;
  L.push(`      (f32.store (local.get $dx) ${dx})`);
  if (scale) L.push('      (f32.store (local.get $pg) (f32.add (f32.load (local.get $pg)) (f32.mul (local.get $ds) (local.get $xs))))');
  if (bias) L.push('      (f32.store (local.get $pb) (f32.add (f32.load (local.get $pb)) (local.get $ds)))');
  advance('      ', 4);
  L.push('      (br $l1)))');
  L.push('  )');
}

/** Calls the write loop for the row's flags (bit 0 scale, bit 1 bias; bit 2 split mean for LN). */
function dispatch(
  L,
  ind,
  prefix,
  variants,
  args = '(local.get $px) (local.get $py) (local.get $g) (local.get $b) (local.get $d) (local.get $mh) (local.get $ml) (local.get $rf)',
) {
  L.push(`${ind}(block $w`);
  for (let k = 0; k < variants; k++) {
    L.push(`${ind}  (if (i32.eq (local.get $sel) ${I(k)}) (then (call $${prefix}${k} ${args}) (br $w)))`);
  }
  L.push(`${ind})`);
}

/**
 * The backward export over `rows` rows (`center`: LayerNorm "lnBackward", else RMSNorm "rmsBackward"):
 * per row one pass for the statistics and the backward sums together (`sums` with `grad`), then one
 * write pass (`writeBackward`). γ and the f32 partial dγ / dβ of row r start `(phase + r) mod period`
 * rows of d floats after $g, $pg and $pb: a per-feature γ spanning `period` consecutive rows (PLN's
 * groups) or, with period 1, one γ for every row.
 */
function backwardExport(L, center) {
  const name = center ? 'lnBackward' : 'rmsBackward';
  const sumsName = center ? 'lnbSums' : 'rmsbSums';
  L.push(
    `;; ${center ? 'LayerNorm' : 'RMSNorm'} backward of \`rows\` rows of d floats: x at $x, dy at $dy, dx into $dx (may equal $dy); γ at $g`,
  );
  L.push(';; (flags bit 0; its row adds dy·x̂ into the f32 partial dγ at $pg), flags bit 1: dy added into the partial dβ at $pb.');
  L.push(
    `  (func (export "${name}") (param $x i32) (param $dy i32) (param $dx i32) (param $g i32) (param $pg i32) (param $pb i32) (param $rows i32) (param $d i32) (param $period i32) (param $phase i32) (param $eps f64) (param $flags i32)`,
  );
  L.push('    (local $row i32) (local $px i32) (local $pq i32) (local $po i32) (local $k i32) (local $go i32) (local $sel i32)');
  L.push('    (local $n f64) (local $s f32) (local $m f64) (local $var f64) (local $mu f64) (local $r f64)');
  L.push('    (local $mh f32) (local $ml f32) (local $rf f32) (local $B f32) (local $C f32)');
  L.push(`    (if (i32.or (i32.eqz ${get('rows')}) (i32.eqz ${get('d')})) (then (return)))`);
  L.push(`    (local.set $n (f64.convert_i32_u ${get('d')}))`);
  for (const [v, from] of [
    ['px', 'x'],
    ['pq', 'dy'],
    ['po', 'dx'],
    ['k', 'phase'],
  ])
    L.push(`    (local.set $${v} ${get(from)})`);
  L.push(`    (local.set $sel (i32.and ${get('flags')} ${I(3)}))`);
  L.push('    (loop $rowl');
  L.push(`      (local.set $go (i32.mul ${get('k')} (i32.shl ${get('d')} ${I(2)})))`);
  const call =
    `(if (i32.and ${get('flags')} ${I(1)}) (then (call $${sumsName}1 (local.get $px) (local.get $pq) (i32.add ${get('g')} ${get('go')}) (local.get $d)${center ? ' (local.get $s)' : ''}))` +
    ` (else (call $${sumsName}0 (local.get $px) (local.get $pq) (local.get $d)${center ? ' (local.get $s)' : ''})))`;
  if (center) {
    shiftedStats(L, '      ', call);
    L.push('      (local.set $r (f64.div (f64.const 1) (f64.sqrt (f64.add (local.get $var) (local.get $eps)))))');
    L.push('      (local.set $mh (f32.demote_f64 (local.get $mu)))');
    L.push('      (local.set $ml (f32.demote_f64 (f64.sub (local.get $mu) (f64.promote_f32 (local.get $mh)))))');
    L.push('      ;; dx = r·(ĝ − mean ĝ − x̂·mean(ĝx̂)): C = −r·Σĝ/n, B = −r·mean(ĝx̂) = −r²·Σĝ(x − μ)/n, Σĝ(x − μ) = P − m·G.');
    L.push('      (local.set $C (f32.demote_f64 (f64.div (f64.mul (f64.neg (local.get $r)) (global.get $G)) (local.get $n))))');
    L.push(
      '      (local.set $B (f32.demote_f64 (f64.div (f64.mul (f64.neg (f64.mul (local.get $r) (local.get $r))) (f64.sub (global.get $P) (f64.mul (local.get $m) (global.get $G)))) (local.get $n))))',
    );
  } else {
    L.push(`      ${call}`);
    L.push('      (local.set $r (f64.div (f64.const 1) (f64.sqrt (f64.add (f64.div (global.get $Q) (local.get $n)) (local.get $eps)))))');
    L.push('      ;; dx = r·(ĝ − x̂·mean(ĝx̂)): B = −r·mean(ĝx̂) = −r²·Σĝx/n.');
    L.push(
      '      (local.set $B (f32.demote_f64 (f64.div (f64.mul (f64.neg (f64.mul (local.get $r) (local.get $r))) (global.get $P)) (local.get $n))))',
    );
  }
  L.push('      (local.set $rf (f32.demote_f64 (local.get $r)))');
  dispatch(
    L,
    '      ',
    center ? 'lnbw' : 'rmsbw',
    4,
    '(local.get $px) (local.get $pq) (local.get $po) (i32.add (local.get $g) (local.get $go)) (i32.add (local.get $pg) (local.get $go)) (i32.add (local.get $pb) (local.get $go)) (local.get $d) (local.get $mh) (local.get $ml) (local.get $rf) (local.get $rf) (local.get $B) (local.get $C)',
  );
  for (const v of ['px', 'pq', 'po']) L.push(`      (local.set $${v} (i32.add ${get(v)} (i32.shl ${get('d')} ${I(2)})))`);
  L.push(`      (local.set $k (i32.add ${get('k')} ${I(1)}))`);
  L.push(`      (if (i32.eq ${get('k')} ${get('period')}) (then (local.set $k ${I(0)})))`);
  L.push(`      (local.set $row (i32.add ${get('row')} ${I(1)}))`);
  L.push(`      (br_if $rowl (i32.lt_u ${get('row')} ${get('rows')})))`);
  L.push('  )');
}

/** The export "flush": adds the n f32 partial sums at $src into the float64 sums at $dst and zeroes them. */
function flushExport(L) {
  L.push(';; $dst[i] (f64) += $src[i] (f32), $src[i] = 0, for i < n.');
  L.push('  (func (export "flush") (param $src i32) (param $dst i32) (param $n i32)');
  L.push('    (local $end4 i32) (local $end i32) (local $v v128)');
  L.push(`    (local.set $end4 (i32.add ${get('src')} (i32.shl (i32.and ${get('n')} ${I(-4)}) ${I(2)})))`);
  L.push(`    (local.set $end (i32.add ${get('src')} (i32.shl ${get('n')} ${I(2)})))`);
  L.push('    (block $d4 (loop $l4');
  L.push(`      (br_if $d4 (i32.ge_u ${get('src')} ${get('end4')}))`);
  L.push('      (local.set $v (v128.load (local.get $src)))');
  L.push('      (v128.store (local.get $dst) (f64x2.add (v128.load (local.get $dst)) (f64x2.promote_low_f32x4 (local.get $v))))');
  L.push(
    '      (v128.store offset=16 (local.get $dst) (f64x2.add (v128.load offset=16 (local.get $dst)) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))))',
  );
  L.push('      (v128.store (local.get $src) (v128.const i32x4 0 0 0 0))');
  L.push(`      (local.set $src (i32.add ${get('src')} ${I(16)}))`);
  L.push(`      (local.set $dst (i32.add ${get('dst')} ${I(32)}))`);
  L.push('      (br $l4)))');
  L.push('    (block $d1 (loop $l1');
  L.push(`      (br_if $d1 (i32.ge_u ${get('src')} ${get('end')}))`);
  L.push('      (f64.store (local.get $dst) (f64.add (f64.load (local.get $dst)) (f64.promote_f32 (f32.load (local.get $src)))))');
  L.push('      (f32.store (local.get $src) (f32.const 0))');
  L.push(`      (local.set $src (i32.add ${get('src')} ${I(4)}))`);
  L.push(`      (local.set $dst (i32.add ${get('dst')} ${I(8)}))`);
  L.push('      (br $l1)))');
  L.push('  )');
}

/** The module's WebAssembly text. */
export function normWat() {
  const L = [];
  L.push(';; Generated by scripts/build-wasm.mjs (from scripts/norm-wat.mjs): do not edit; edit the generator and rerun it.');
  L.push(';; f32 LayerNorm / RMSNorm over rows of the trailing axis, WebAssembly SIMD (f32x4 loads, float64 accumulation per block).');
  L.push('(module');
  L.push('  (import "env" "memory" (memory 1))');
  L.push('  (global $S (mut f64) (f64.const 0))');
  L.push('  (global $Q (mut f64) (f64.const 0))');
  L.push('  (global $G (mut f64) (f64.const 0))');
  L.push('  (global $P (mut f64) (f64.const 0))');
  sums(L, 'shiftedSums', { shift: true });
  sums(L, 'sumSquares', { shift: false });
  // Backward sums (index = scale) and write variants (index = scale | bias << 1).
  for (let k = 0; k < 2; k++) {
    sums(L, `lnbSums${k}`, { shift: true, grad: true, scale: k === 1, unroll: 2 });
    sums(L, `rmsbSums${k}`, { shift: false, grad: true, scale: k === 1, unroll: 2 });
  }
  for (let k = 0; k < 4; k++) {
    writeBackward(L, `lnbw${k}`, true, (k & 1) !== 0, (k & 2) !== 0);
    writeBackward(L, `rmsbw${k}`, false, (k & 1) !== 0, (k & 2) !== 0);
  }
  // LN write variants: index = scale | bias << 1 | split << 2.
  for (let k = 0; k < 8; k++) writeLoop(L, `lnw${k}`, true, (k & 4) !== 0, (k & 1) !== 0, (k & 2) !== 0);
  for (let k = 0; k < 4; k++) writeLoop(L, `rmsw${k}`, false, false, (k & 1) !== 0, (k & 2) !== 0);
  // ---- LayerNorm over rows ----
  // Two loops over the rows: first every row's statistics (so the scalar tail of one row overlaps the
  // next row's reduction), then every row's write pass. μlo of each row waits at $lo + 4r.
  L.push(';; LayerNorm of `rows` rows of d floats at $x into $y (may equal $x); γ at $g, β at $b (flags bit 0 / 1);');
  L.push(';; per row the mean and 1/sqrt(var + eps) are stored (float32) at $mean + 4r and $rstd + 4r; $lo + 4r is scratch.');
  L.push(
    '  (func (export "ln") (param $x i32) (param $y i32) (param $g i32) (param $b i32) (param $mean i32) (param $rstd i32) (param $lo i32) (param $rows i32) (param $d i32) (param $eps f64) (param $flags i32)',
  );
  L.push(
    '    (local $row i32) (local $px i32) (local $py i32) (local $sel i32) (local $n f64) (local $s f32) (local $m f64) (local $var f64)',
  );
  L.push('    (local $mu f64) (local $r f64) (local $mh f32) (local $ml f32) (local $rf f32) (local $o i32)');
  L.push(`    (if (i32.or (i32.eqz ${get('rows')}) (i32.eqz ${get('d')})) (then (return)))`);
  L.push(`    (local.set $n (f64.convert_i32_u ${get('d')}))`);
  L.push(`    (local.set $px ${get('x')})`);
  L.push('    (loop $stats');
  shiftedStats(L, '      ', '(call $shiftedSums (local.get $px) (local.get $d) (local.get $s))');
  L.push('      (local.set $mh (f32.demote_f64 (local.get $mu)))');
  L.push(`      (local.set $o (i32.shl ${get('row')} ${I(2)}))`);
  L.push(`      (f32.store (i32.add ${get('mean')} ${get('o')}) (local.get $mh))`);
  L.push(
    `      (f32.store (i32.add ${get('lo')} ${get('o')}) (f32.demote_f64 (f64.sub (local.get $mu) (f64.promote_f32 (local.get $mh)))))`,
  );
  L.push(
    `      (f32.store (i32.add ${get('rstd')} ${get('o')}) (f32.demote_f64 (f64.div (f64.const 1) (f64.sqrt (f64.add (local.get $var) (local.get $eps))))))`,
  );
  L.push(`      (local.set $px (i32.add ${get('px')} (i32.shl ${get('d')} ${I(2)})))`);
  L.push(`      (local.set $row (i32.add ${get('row')} ${I(1)}))`);
  L.push(`      (br_if $stats (i32.lt_u ${get('row')} ${get('rows')})))`);
  L.push(`    (local.set $px ${get('x')})`);
  L.push(`    (local.set $py ${get('y')})`);
  L.push(`    (local.set $row ${I(0)})`);
  L.push('    (loop $rowl');
  L.push(`      (local.set $o (i32.shl ${get('row')} ${I(2)}))`);
  L.push(`      (local.set $mh (f32.load (i32.add ${get('mean')} ${get('o')})))`);
  L.push(`      (local.set $ml (f32.load (i32.add ${get('lo')} ${get('o')})))`);
  L.push(`      (local.set $rf (f32.load (i32.add ${get('rstd')} ${get('o')})))`);
  L.push(`      (local.set $sel (i32.and ${get('flags')} ${I(3)}))`);
  L.push('      (if (f32.gt (f32.mul (f32.abs (local.get $ml)) (local.get $rf)) (f32.const 0x1p-22))');
  L.push(`        (then (local.set $sel (i32.or ${get('sel')} ${I(4)}))))`);
  dispatch(L, '      ', 'lnw', 8);
  L.push(`      (local.set $px (i32.add ${get('px')} (i32.shl ${get('d')} ${I(2)})))`);
  L.push(`      (local.set $py (i32.add ${get('py')} (i32.shl ${get('d')} ${I(2)})))`);
  L.push(`      (local.set $row (i32.add ${get('row')} ${I(1)}))`);
  L.push(`      (br_if $rowl (i32.lt_u ${get('row')} ${get('rows')})))`);
  L.push('  )');
  // ---- RMSNorm over rows ----
  L.push(';; RMSNorm of `rows` rows of d floats at $x into $y (may equal $x); γ at $g, β at $b (flags bit 0 / 1);');
  L.push(';; per row 1/sqrt(mean(x²) + eps) is stored (float32) at $rstd + 4r.');
  L.push(
    '  (func (export "rms") (param $x i32) (param $y i32) (param $g i32) (param $b i32) (param $rstd i32) (param $rows i32) (param $d i32) (param $eps f64) (param $flags i32)',
  );
  L.push(
    '    (local $row i32) (local $px i32) (local $py i32) (local $sel i32) (local $n f64) (local $mh f32) (local $ml f32) (local $rf f32)',
  );
  L.push(`    (if (i32.or (i32.eqz ${get('rows')}) (i32.eqz ${get('d')})) (then (return)))`);
  L.push(`    (local.set $n (f64.convert_i32_u ${get('d')}))`);
  L.push(`    (local.set $px ${get('x')})`);
  L.push(`    (local.set $py ${get('y')})`);
  L.push(`    (local.set $sel (i32.and ${get('flags')} ${I(3)}))`);
  L.push('    (loop $stats');
  L.push('      (call $sumSquares (local.get $px) (local.get $d))');
  L.push(
    `      (f32.store (i32.add ${get('rstd')} (i32.shl ${get('row')} ${I(2)})) (f32.demote_f64 (f64.div (f64.const 1) (f64.sqrt (f64.add (f64.div (global.get $Q) (local.get $n)) (local.get $eps))))))`,
  );
  L.push(`      (local.set $px (i32.add ${get('px')} (i32.shl ${get('d')} ${I(2)})))`);
  L.push(`      (local.set $row (i32.add ${get('row')} ${I(1)}))`);
  L.push(`      (br_if $stats (i32.lt_u ${get('row')} ${get('rows')})))`);
  L.push(`    (local.set $px ${get('x')})`);
  L.push(`    (local.set $row ${I(0)})`);
  L.push('    (loop $rowl');
  L.push(`      (local.set $rf (f32.load (i32.add ${get('rstd')} (i32.shl ${get('row')} ${I(2)}))))`);
  dispatch(L, '      ', 'rmsw', 4);
  L.push(`      (local.set $px (i32.add ${get('px')} (i32.shl ${get('d')} ${I(2)})))`);
  L.push(`      (local.set $py (i32.add ${get('py')} (i32.shl ${get('d')} ${I(2)})))`);
  L.push(`      (local.set $row (i32.add ${get('row')} ${I(1)}))`);
  L.push(`      (br_if $rowl (i32.lt_u ${get('row')} ${get('rows')})))`);
  L.push('  )');
  backwardExport(L, true);
  backwardExport(L, false);
  flushExport(L);
  L.push(')');
  return `${L.join('\n')}\n`;
}
