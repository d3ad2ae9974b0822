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
 * The reduction over one row at $p (d floats): LayerNorm's shifted sums (`shift` true: Σ(x − s),
 * Σ(x − s)²) or RMSNorm's Σx². Results go to the globals $S and $Q (float64).
 */
function sums(L, name, shift) {
  L.push(`  ;; ${shift ? 'S = Σ(x − s), Q = Σ(x − s)²' : 'Q = Σx²'} over the d floats at $p (globals $S, $Q).`);
  L.push(`  (func $${name} (param $p i32) (param $d i32)${shift ? ' (param $s f32)' : ''}`);
  L.push('    (local $end16 i32) (local $end4 i32) (local $end i32) (local $blk i32) (local $sv v128) (local $t v128)');
  L.push('    (local $S64 v128) (local $Q64 v128) (local $sS f64) (local $sQ f64) (local $e f64)');
  for (let k = 0; k < 4; k++) L.push(`    (local $a${k} v128) (local $q${k} v128) (local $t${k} v128)`);
  if (shift) L.push('    (local.set $sv (f32x4.splat (local.get $s)))');
  L.push(`    (local.set $end16 (i32.add ${get('p')} (i32.shl (i32.and ${get('d')} ${I(-16)}) ${I(2)})))`);
  L.push(`    (local.set $end4 (i32.add ${get('p')} (i32.shl (i32.and ${get('d')} ${I(-4)}) ${I(2)})))`);
  L.push(`    (local.set $end (i32.add ${get('p')} (i32.shl ${get('d')} ${I(2)})))`);
  // Flushes f32x4 partial sums $aK / $qK (K < n) into the float64 accumulators.
  const flush = (ind, n) => {
    const tree = (v) =>
      n === 1
        ? `(local.get $${v}0)`
        : `(f32x4.add (f32x4.add (local.get $${v}0) (local.get $${v}1)) (f32x4.add (local.get $${v}2) (local.get $${v}3)))`;
    const vars = shift
      ? [
          ['a', 'S64'],
          ['q', 'Q64'],
        ]
      : [['q', 'Q64']];
    for (const [v, acc] of vars) {
      L.push(`${ind}(local.set $t ${tree(v)})`);
      L.push(`${ind}(local.set $${acc} (f64x2.add (local.get $${acc}) (f64x2.promote_low_f32x4 (local.get $t))))`);
      L.push(
        `${ind}(local.set $${acc} (f64x2.add (local.get $${acc}) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $t) (local.get $t)))))`,
      );
    }
  };
  const zero = (ind, n) => {
    for (let k = 0; k < n; k++) {
      if (shift) L.push(`${ind}(local.set $a${k} (v128.const i32x4 0 0 0 0))`);
      L.push(`${ind}(local.set $q${k} (v128.const i32x4 0 0 0 0))`);
    }
  };
  // One vector at byte offset `off` from $p into accumulator pair k.
  const vec = (ind, k, off) => {
    const load = `(v128.load offset=${off} (local.get $p))`;
    if (shift) {
      L.push(`${ind}(local.set $t${k} (f32x4.sub ${load} (local.get $sv)))`);
      L.push(`${ind}(local.set $a${k} (f32x4.add (local.get $a${k}) (local.get $t${k})))`);
    } else L.push(`${ind}(local.set $t${k} ${load})`);
    L.push(`${ind}(local.set $q${k} (f32x4.add (local.get $q${k}) (f32x4.mul (local.get $t${k}) (local.get $t${k}))))`);
  };
  // Blocks of BLOCK iterations × 16 floats (four independent accumulator pairs).
  L.push(`    (block $b16 (loop $blocks`);
  L.push(`      (br_if $b16 (i32.ge_u ${get('p')} ${get('end16')}))`);
  L.push(`      (local.set $blk (i32.add ${get('p')} ${I(BLOCK * 64)}))`);
  L.push(`      (if (i32.gt_u ${get('blk')} ${get('end16')}) (then (local.set $blk ${get('end16')})))`);
  zero('      ', 4);
  L.push('      (loop $it');
  for (let k = 0; k < 4; k++) vec('        ', k, k * 16);
  L.push(`        (local.set $p (i32.add ${get('p')} ${I(64)}))`);
  L.push(`        (br_if $it (i32.lt_u ${get('p')} ${get('blk')})))`);
  flush('      ', 4);
  L.push('      (br $blocks)))');
  // Up to three remaining vectors.
  L.push(`    (if (i32.lt_u ${get('p')} ${get('end4')}) (then`);
  zero('      ', 1);
  L.push('      (loop $v');
  vec('        ', 0, 0);
  L.push(`        (local.set $p (i32.add ${get('p')} ${I(16)}))`);
  L.push(`        (br_if $v (i32.lt_u ${get('p')} ${get('end4')})))`);
  flush('      ', 1);
  L.push('    ))');
  if (shift) L.push('    (local.set $sS (f64.add (f64x2.extract_lane 0 (local.get $S64)) (f64x2.extract_lane 1 (local.get $S64))))');
  L.push('    (local.set $sQ (f64.add (f64x2.extract_lane 0 (local.get $Q64)) (f64x2.extract_lane 1 (local.get $Q64))))');
  // Up to three remaining floats, in float64.
  L.push(`    (block $tdone (loop $tail`);
  L.push(`      (br_if $tdone (i32.ge_u ${get('p')} ${get('end')}))`);
  L.push(
    `      (local.set $e (f64.promote_f32 ${shift ? `(f32.sub (f32.load (local.get $p)) (local.get $s))` : '(f32.load (local.get $p))'}))`,
  );
  if (shift) L.push('      (local.set $sS (f64.add (local.get $sS) (local.get $e)))');
  L.push('      (local.set $sQ (f64.add (local.get $sQ) (f64.mul (local.get $e) (local.get $e))))');
  L.push(`      (local.set $p (i32.add ${get('p')} ${I(4)}))`);
  L.push('      (br $tail)))');
  if (shift) L.push('    (global.set $S (local.get $sS))');
  L.push('    (global.set $Q (local.get $sQ))');
  L.push('  )');
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

/** Calls the write loop for the row's flags (bit 0 scale, bit 1 bias; bit 2 split mean for LN). */
function dispatch(L, ind, prefix, variants) {
  const args =
    '(local.get $px) (local.get $py) (local.get $g) (local.get $b) (local.get $d) (local.get $mh) (local.get $ml) (local.get $rf)';
  L.push(`${ind}(block $w`);
  for (let k = 0; k < variants; k++) {
    L.push(`${ind}  (if (i32.eq (local.get $sel) ${I(k)}) (then (call $${prefix}${k} ${args}) (br $w)))`);
  }
  L.push(`${ind})`);
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
  sums(L, 'shiftedSums', true);
  sums(L, 'sumSquares', false);
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
  // Shift: the mean of the first four elements (or the first element of a shorter row).
  L.push(`      (if (i32.ge_u ${get('d')} ${I(4)})`);
  L.push('        (then (local.set $s (f32.demote_f64 (f64.mul (f64.const 0.25) (f64.add');
  L.push('          (f64.add (f64.promote_f32 (f32.load offset=0 (local.get $px))) (f64.promote_f32 (f32.load offset=4 (local.get $px))))');
  L.push(
    '          (f64.add (f64.promote_f32 (f32.load offset=8 (local.get $px))) (f64.promote_f32 (f32.load offset=12 (local.get $px)))))))))',
  );
  L.push('        (else (local.set $s (f32.load (local.get $px)))))');
  L.push('      (call $shiftedSums (local.get $px) (local.get $d) (local.get $s))');
  L.push('      (local.set $m (f64.div (global.get $S) (local.get $n)))');
  L.push('      (local.set $var (f64.sub (f64.div (global.get $Q) (local.get $n)) (f64.mul (local.get $m) (local.get $m))))');
  L.push('      ;; The shift is far from the mean (the variance would lose digits): sum once more around the mean.');
  L.push('      (if (f64.gt (f64.mul (local.get $m) (local.get $m)) (f64.mul (f64.const 8) (local.get $var))) (then');
  L.push('        (local.set $s (f32.demote_f64 (f64.add (f64.promote_f32 (local.get $s)) (local.get $m))))');
  L.push('        (call $shiftedSums (local.get $px) (local.get $d) (local.get $s))');
  L.push('        (local.set $m (f64.div (global.get $S) (local.get $n)))');
  L.push('        (local.set $var (f64.sub (f64.div (global.get $Q) (local.get $n)) (f64.mul (local.get $m) (local.get $m))))))');
  L.push('      (local.set $var (f64.max (local.get $var) (f64.const 0)))');
  L.push('      (local.set $mu (f64.add (f64.promote_f32 (local.get $s)) (local.get $m)))');
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
  L.push(')');
  return `${L.join('\n')}\n`;
}
