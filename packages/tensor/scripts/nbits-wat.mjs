// WebAssembly SIMD kernels of the fused 4-bit matrix product (com.microsoft MatMulNBits with bits = 4),
// written as WebAssembly text (WAT) by template. scripts/build-wasm.mjs writes the text to
// src/cpu/nbits.wat (for review) and compiles it with wabt into src/cpu/nbits-wasm.generated.ts.
//
// The weight W [N, K] is stored as ONNX's MatMulNBits keeps it: for each row n, ⌈K / block⌉ blocks of
// block/2 bytes (two values a byte, low nibble first), one float scale and one float zero point per
// (n, block); W[n, k] = (q − zero point) · scale, computed in float32 exactly as the dequantizing path
// computes it. K is padded to whole blocks (Kp); A's padding columns are zero, so W's padding values
// add nothing.
//
// Exports (all addresses and strides in bytes, every matrix float32):
//   dequantB  groups of 8 rows of W dequantized into the packed right-hand panels of the GEMM
//             module's micro-kernel (`gebp`, NR = 8): for each k, the group's 8 values. The caller
//             multiplies them into packed A with that module's `packA` and `gebp` on the same memory,
//             so the panel product is the float GEMM's own kernel.
//   gemv      C (+)= A·Wᵀ for up to 4 rows of A straight from the packed bytes (decode-time products):
//             each 32 values (16 for blocks of 16) of a row of W are unpacked into registers and used
//             by every row of A; nothing is written but C.
// All sums are float32 multiply-then-add (no fused multiply-add), so the products match the
// dequantize-then-GEMM path up to summation order.

import { add, get, I, mul, set, vadd, vmul } from './fused-wat.mjs';

/** Interleaves the low (high) 8 bytes of two vectors: a0 b0 a1 b1 … a7 b7 (low nibbles, high nibbles → k order). */
const INTERLEAVE = '0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23';
const INTERLEAVE_HIGH = '8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31';

/**
 * Lines setting locals `${p}0..3` to the 16 values of the k-ordered nibble vector $v, dequantized:
 * (q − $zc) · $sc.
 */
function widen16(L, ind, p) {
  for (let j = 0; j < 4; j++) {
    // Byte 4j + i of $v into lane i (swizzle indices ≥ 16 give zero bytes).
    const idx = [0, 1, 2, 3].flatMap((i) => [4 * j + i, -128, -128, -128]);
    const q = `(f32x4.convert_i32x4_s (i8x16.swizzle ${get('v')} (v128.const i8x16 ${idx.join(' ')})))`;
    L.push(`${ind}${set(`${p}${j}`, vmul(`(f32x4.sub ${q} ${get('zc')})`, get('sc')))}`);
  }
}

/**
 * Byte shuffles of `(v & 15, v >> 4)`, v holding 4 bytes of each of 4 rows (row r at bytes 4r..4r+3):
 * the nibbles of k = 0..3, then k = 4..7, each k as the 4 rows' values (low nibble of byte b is k = 2b).
 */
const TRANSPOSE = [0, 1].map((half) =>
  [0, 1, 2, 3].flatMap((kk) => {
    const k = 4 * half + kk;
    return [0, 1, 2, 3].map((r) => (k % 2 ? 16 : 0) + 4 * r + (k >> 1));
  }),
);

/**
 * The export `dequantB`: `groups` groups of 8 consecutive rows of W dequantized into the GEMM's packed
 * right-hand panels (`gebp` of the GEMM module): group g at $dst + g·Kp·32, for each k the 8 values
 * W[8g .. 8g + 7, k]. Per row quad and 8 values of k: the quad's 4 bytes a row gathered into one vector,
 * its nibbles shuffled into k-major order (the transpose happens on bytes), then widened to floats,
 * each lane with its row's scale and zero point.
 */
function dequantBFunc(L) {
  L.push('  ;; Dequantizes groups·8 rows of W ($w packed bytes, $s scales, $z zero points, row after row) into');
  L.push('  ;; [groups][Kp][8] floats at $dst: the packed-B panels of the GEMM micro-kernel (NR = 8).');
  L.push(
    '  (func (export "dequantB") (param $w i32) (param $s i32) (param $z i32) (param $dst i32) (param $groups i32) (param $blocks i32) (param $block i32)',
  );
  L.push(
    '    (local $rowB i32) (local $sRow i32) (local $r0 i32) (local $j i32) (local $u i32) (local $o i32) (local $p i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $sa i32)',
  );
  L.push('    (local $v v128) (local $lo v128) (local $hi v128) (local $sc v128) (local $zc v128) (local $m15 v128)');
  L.push(`    ${set('m15', `(i8x16.splat ${I(15)})`)}`);
  L.push(`    ${set('rowB', `(i32.shr_u ${mul(get('blocks'), get('block'))} ${I(1)})`)}`);
  L.push(`    ${set('sRow', `(i32.shl ${get('blocks')} ${I(2)})`)}`);
  L.push(`    (block $gd (loop $gl (br_if $gd (i32.ge_u ${get('r0')} (i32.shl ${get('groups')} ${I(3)})))`);
  // Output: group r0/8 at Kp·32 bytes each, the quad's 4 columns at 16 bytes into each k's 8.
  L.push(`      ${set('o', add(get('dst'), mul(`(i32.shr_u ${get('r0')} ${I(3)})`, `(i32.shl ${get('rowB')} ${I(6)})`)))}`);
  L.push(`      ${set('o', add(get('o'), `(i32.shl (i32.and ${get('r0')} ${I(4)}) ${I(2)})`))}`);
  L.push(`      ${set('p', add(get('w'), mul(get('r0'), get('rowB'))))}`);
  for (let r = 1; r < 4; r++) L.push(`      ${set(`p${r}`, add(get('p'), mul(get('rowB'), I(r))))}`);
  L.push(`      ${set('sa', mul(get('r0'), get('sRow')))}`);
  L.push(`      ${set('j', get('blocks'))}`);
  L.push('      (loop $jl');
  // The quad's scales and zero points of this block, one lane a row.
  for (const [v, base] of [
    ['sc', 's'],
    ['zc', 'z'],
  ]) {
    const at = (r) => add(add(get(base), get('sa')), r === 0 ? I(0) : mul(get('sRow'), I(r)));
    L.push(`        ${set(v, `(v128.load32_zero ${at(0)})`)}`);
    for (let r = 1; r < 4; r++) L.push(`        ${set(v, `(v128.load32_lane ${r} ${at(r)} ${get(v)})`)}`);
  }
  L.push(`        ${set('u', `(i32.shr_u ${get('block')} ${I(3)})`)}`);
  L.push('        (loop $ul');
  L.push(`          ${set('v', `(v128.load32_zero ${get('p')})`)}`);
  for (let r = 1; r < 4; r++) L.push(`          ${set('v', `(v128.load32_lane ${r} ${get(`p${r}`)} ${get('v')})`)}`);
  L.push(`          ${set('lo', `(v128.and ${get('v')} ${get('m15')})`)}`);
  L.push(`          ${set('hi', `(v128.and (i16x8.shr_u ${get('v')} ${I(4)}) ${get('m15')})`)}`);
  for (let half = 0; half < 2; half++) {
    L.push(`          ${set('v', `(i8x16.shuffle ${TRANSPOSE[half].join(' ')} ${get('lo')} ${get('hi')})`)}`);
    for (let kk = 0; kk < 4; kk++) {
      // Byte 4·kk + r of $v into lane r (swizzle indices ≥ 16 give zero bytes).
      const idx = [0, 1, 2, 3].flatMap((r) => [4 * kk + r, -128, -128, -128]);
      const q = `(f32x4.convert_i32x4_s (i8x16.swizzle ${get('v')} (v128.const i8x16 ${idx.join(' ')})))`;
      L.push(`          (v128.store offset=${(4 * half + kk) * 32} ${get('o')} ${vmul(`(f32x4.sub ${q} ${get('zc')})`, get('sc'))})`);
    }
  }
  L.push(`          ${set('p', add(get('p'), I(4)))}`);
  for (let r = 1; r < 4; r++) L.push(`          ${set(`p${r}`, add(get(`p${r}`), I(4)))}`);
  L.push(`          ${set('o', add(get('o'), I(256)))}`);
  L.push(`          ${set('u', `(i32.sub ${get('u')} ${I(1)})`)}`);
  L.push(`          (br_if $ul ${get('u')}))`);
  L.push(`        ${set('sa', add(get('sa'), I(4)))}`);
  L.push(`        ${set('j', `(i32.sub ${get('j')} ${I(1)})`)}`);
  L.push(`        (br_if $jl ${get('j')}))`);
  L.push(`      ${set('r0', add(get('r0'), I(4)))}`);
  L.push('      (br $gl)))');
  L.push('  )');
}

/** Lines storing (or adding, when $acc) the lane sum of accumulator `v` as the float at address `at`. */
function storeSum(L, ind, v, at) {
  const h = `(f32x4.add ${get(v)} (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${get(v)} ${get(v)}))`;
  L.push(`${ind}${set(v, h)}`);
  const sum = `(f32.add (f32x4.extract_lane 0 ${get(v)}) (f32x4.extract_lane 1 ${get(v)}))`;
  L.push(`${ind}(f32.store ${at} (if (result f32) ${get('acc')} (then (f32.add (f32.load ${at}) ${sum})) (else ${sum})))`);
}

/** Rows of A the decode kernel takes per pass. */
const MAX_MR = 4;

/**
 * $gemv{MR}: C[MR, rows] (+)= A[MR, Kp]·Wᵀ for `rows` rows of W given packed, one row of W at a time:
 * each 16-value group is unpacked into registers and multiplied into every row of A (accumulators
 * split in two per row so consecutive adds do not wait on each other).
 */
function gemvFunc(L, MR) {
  L.push(
    `  (func $gemv${MR} (param $a i32) (param $lda i32) (param $w i32) (param $s i32) (param $z i32) (param $c i32) (param $ldc i32) (param $rows i32) (param $blocks i32) (param $block i32) (param $acc i32)`,
  );
  L.push(
    '    (local $r i32) (local $j i32) (local $end i32) (local $v v128) (local $lo v128) (local $hi v128) (local $sc v128) (local $zc v128)',
  );
  L.push('    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)');
  for (let m = 0; m < MR; m++) L.push(`    (local $a${m} i32) (local $s${m} v128) (local $t${m} v128)`);
  L.push(`    (block $rd (loop $rl (br_if $rd (i32.ge_u ${get('r')} ${get('rows')}))`);
  for (let m = 0; m < MR; m++) {
    L.push(`      ${set(`a${m}`, add(get('a'), mul(get('lda'), I(m))))}`);
    L.push(`      ${set(`s${m}`, '(v128.const i32x4 0 0 0 0)')} ${set(`t${m}`, '(v128.const i32x4 0 0 0 0)')}`);
  }
  L.push(`      ${set('j', I(0))}`);
  L.push(`      (loop $bl`);
  L.push(`        ${set('sc', `(v128.load32_splat ${get('s')})`)}`);
  L.push(`        ${set('zc', `(v128.load32_splat ${get('z')})`)}`);
  L.push(`        ${set('end', add(get('w'), `(i32.shr_u ${get('block')} ${I(1)})`))}`);
  // One unit: 8 bytes (16 values; blocks of 16) or 16 bytes (32 values; larger blocks): nibbles split,
  // interleaved into k order, widened, and multiplied into every row's accumulators.
  const unit = (bytes) => {
    L.push('          (loop $u');
    L.push(`            ${set('v', `(v128.load${bytes === 8 ? '64_zero' : ''} ${get('w')})`)}`);
    L.push(`            ${set('lo', `(v128.and ${get('v')} (i8x16.splat ${I(15)}))`)}`);
    L.push(`            ${set('hi', `(v128.and (i16x8.shr_u ${get('v')} ${I(4)}) (i8x16.splat ${I(15)}))`)}`);
    for (let half = 0; half < bytes / 8; half++) {
      L.push(`            ${set('v', `(i8x16.shuffle ${half ? INTERLEAVE_HIGH : INTERLEAVE} ${get('lo')} ${get('hi')})`)}`);
      widen16(L, '            ', 'd');
      for (let m = 0; m < MR; m++) {
        const p = (j) => vmul(`(v128.load offset=${64 * half + 16 * j} ${get(`a${m}`)})`, get(`d${j}`));
        L.push(`            ${set(`s${m}`, vadd(get(`s${m}`), vadd(p(0), p(1))))}`);
        L.push(`            ${set(`t${m}`, vadd(get(`t${m}`), vadd(p(2), p(3))))}`);
      }
    }
    for (let m = 0; m < MR; m++) L.push(`            ${set(`a${m}`, add(get(`a${m}`), I(8 * bytes)))}`);
    L.push(`            ${set('w', add(get('w'), I(bytes)))}`);
    L.push(`            (br_if $u (i32.lt_u ${get('w')} ${get('end')})))`);
  };
  L.push(`        (if (i32.eq ${get('block')} ${I(16)}) (then`);
  unit(8);
  L.push('        ) (else');
  unit(16);
  L.push('        ))');
  L.push(`        ${set('s', add(get('s'), I(4)))}`);
  L.push(`        ${set('z', add(get('z'), I(4)))}`);
  L.push(`        ${set('j', add(get('j'), I(1)))}`);
  L.push(`        (br_if $bl (i32.lt_u ${get('j')} ${get('blocks')})))`);
  for (let m = 0; m < MR; m++) {
    L.push(`      ${set(`s${m}`, vadd(get(`s${m}`), get(`t${m}`)))}`);
    storeSum(L, '      ', `s${m}`, add(get('c'), add(mul(get('ldc'), I(m)), `(i32.shl ${get('r')} ${I(2)})`)));
  }
  L.push(`      ${set('r', add(get('r'), I(1)))}`);
  L.push('      (br $rl)))');
  L.push('  )');
}

/** The export `gemv`: $M (1 to 4) rows of A against `rows` packed rows of W. */
function gemvExport(L) {
  L.push(
    '  (func (export "gemv") (param $a i32) (param $lda i32) (param $w i32) (param $s i32) (param $z i32) (param $c i32) (param $ldc i32) (param $M i32) (param $rows i32) (param $blocks i32) (param $block i32) (param $acc i32)',
  );
  const args = ['a', 'lda', 'w', 's', 'z', 'c', 'ldc', 'rows', 'blocks', 'block', 'acc'].map(get).join(' ');
  for (let m = 1; m <= MAX_MR; m++) L.push(`    (if (i32.eq ${get('M')} ${I(m)}) (then (call $gemv${m} ${args}) (return)))`);
  L.push('  )');
}

/** The whole module's text. */
export function nbitsWat(shared = false) {
  const L = [';; Generated by scripts/build-wasm.mjs from scripts/nbits-wat.mjs: do not edit; edit the generator and rerun it.'];
  L.push('(module');
  // A shared memory (the GEMM's, for its worker threads) must declare its maximum.
  L.push(`  (import "env" "memory" (memory 1${shared ? ' 65536 shared' : ''}))`);
  dequantBFunc(L);
  for (let m = 1; m <= MAX_MR; m++) gemvFunc(L, m);
  gemvExport(L);
  L.push(')');
  return `${L.join('\n')}\n`;
}
