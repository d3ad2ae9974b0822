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
//   dequant  rows of W from their packed bytes, scales and zero points into float32 rows of Kp values.
//   mm       C (+)= A·Wᵀ for A [M, Kp] (row stride lda) and a dequantized panel W [N, Kp] (row stride
//            ldw), C row stride ldc: dot-product tiles (MR rows of A × NR rows of W, one v128
//            accumulator per pair, summed across lanes at the end) over K in chunks of kc values, so a
//            tile's rows stay in L1. No packing: both operands are read in place.
//   gemv     C (+)= A·Wᵀ for up to 4 rows of A straight from the packed bytes (decode-time products):
//            each 16-value group of a row of W is unpacked into registers and used by every row of A,
//            nothing is written but C.
// All sums are float32 multiply-then-add (no fused multiply-add), so the products match the
// dequantize-then-GEMM path up to summation order.

import { add, get, I, mul, set, vadd, vmul } from './fused-wat.mjs';

/** Interleaves the low 8 bytes of two vectors: a0 b0 a1 b1 … a7 b7 (low nibbles, high nibbles → k order). */
const INTERLEAVE = '0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23';

/**
 * Lines setting locals `${p}0..3` to the 16 dequantized values of the 8 bytes at address `ptr`:
 * (q − $zc) · $sc, q the nibbles in k order (each byte: low nibble, then high).
 */
function unpack16(L, ind, ptr, p) {
  L.push(`${ind}${set('v', `(v128.load64_zero ${ptr})`)}`);
  L.push(
    `${ind}${set('v', `(i8x16.shuffle ${INTERLEAVE} (v128.and ${get('v')} (i8x16.splat ${I(15)})) (i8x16.shr_u ${get('v')} ${I(4)}))`)}`,
  );
  const halves = [`(i16x8.extend_low_i8x16_u ${get('v')})`, `(i16x8.extend_high_i8x16_u ${get('v')})`];
  halves.forEach((h, i) => {
    L.push(`${ind}${set('h', h)}`);
    for (const [j, part] of [
      [0, 'low'],
      [1, 'high'],
    ]) {
      const q = `(f32x4.convert_i32x4_s (i32x4.extend_${part}_i16x8_u ${get('h')}))`;
      L.push(`${ind}${set(`${p}${2 * i + j}`, vmul(`(f32x4.sub ${q} ${get('zc')})`, get('sc')))}`);
    }
  });
}

/** The export `dequant`: `rows` rows of `blocks` blocks of `block` values (a multiple of 16) each. */
function dequantFunc(L) {
  L.push('  ;; Dequantizes rows·blocks blocks: $w packed bytes (block/2 a block), $s scales and $z zero points');
  L.push('  ;; (one f32 each per block), into consecutive f32 values at $dst.');
  L.push(
    '  (func (export "dequant") (param $w i32) (param $s i32) (param $z i32) (param $dst i32) (param $rows i32) (param $blocks i32) (param $block i32)',
  );
  L.push('    (local $n i32) (local $end i32) (local $v v128) (local $h v128) (local $sc v128) (local $zc v128)');
  L.push('    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)');
  L.push(`    ${set('n', mul(get('rows'), get('blocks')))}`);
  L.push(`    (block $done (loop $b (br_if $done (i32.eqz ${get('n')}))`);
  L.push(`      ${set('sc', `(v128.load32_splat ${get('s')})`)}`);
  L.push(`      ${set('zc', `(v128.load32_splat ${get('z')})`)}`);
  L.push(`      ${set('end', add(get('w'), `(i32.shr_u ${get('block')} ${I(1)})`))}`);
  L.push('      (loop $u');
  unpack16(L, '        ', get('w'), 'd');
  for (let j = 0; j < 4; j++) L.push(`        (v128.store offset=${16 * j} ${get('dst')} ${get(`d${j}`)})`);
  L.push(`        ${set('w', add(get('w'), I(8)))}`);
  L.push(`        ${set('dst', add(get('dst'), I(64)))}`);
  L.push(`        (br_if $u (i32.lt_u ${get('w')} ${get('end')})))`);
  L.push(`      ${set('s', add(get('s'), I(4)))}`);
  L.push(`      ${set('z', add(get('z'), I(4)))}`);
  L.push(`      ${set('n', `(i32.sub ${get('n')} ${I(1)})`)}`);
  L.push('      (br $b)))');
  L.push('  )');
}

/** Lines storing (or adding, when $acc) the lane sum of accumulator `v` as the float at address `at`. */
function storeSum(L, ind, v, at) {
  const h = `(f32x4.add ${get(v)} (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${get(v)} ${get(v)}))`;
  L.push(`${ind}${set(v, h)}`);
  const sum = `(f32.add (f32x4.extract_lane 0 ${get(v)}) (f32x4.extract_lane 1 ${get(v)}))`;
  L.push(`${ind}(f32.store ${at} (if (result f32) ${get('acc')} (then (f32.add (f32.load ${at}) ${sum})) (else ${sum})))`);
}

/** $tile{MR}x{NR}: C[MR, NR] (+)= A[MR, kc]·W[NR, kc]ᵀ, kc a multiple of 16, one accumulator per pair. */
function tileFunc(L, MR, NR) {
  L.push(
    `  (func $tile${MR}x${NR} (param $a i32) (param $lda i32) (param $w i32) (param $ldw i32) (param $c i32) (param $ldc i32) (param $kc i32) (param $acc i32)`,
  );
  L.push('    (local $end i32)');
  for (let m = 0; m < MR; m++) L.push(`    (local $a${m} i32) (local $x${m} v128)`);
  for (let n = 0; n < NR; n++) L.push(`    (local $w${n} i32) (local $y${n} v128)`);
  for (let m = 0; m < MR; m++) for (let n = 0; n < NR; n++) L.push(`    (local $s${m}_${n} v128)`);
  for (let m = 0; m < MR; m++) L.push(`    ${set(`a${m}`, add(get('a'), mul(get('lda'), I(m))))}`);
  for (let n = 0; n < NR; n++) L.push(`    ${set(`w${n}`, add(get('w'), mul(get('ldw'), I(n))))}`);
  L.push(`    ${set('end', add(get('a'), `(i32.shl ${get('kc')} ${I(2)})`))}`);
  L.push('    (loop $k');
  for (let u = 0; u < 4; u++) {
    for (let m = 0; m < MR; m++) L.push(`      ${set(`x${m}`, `(v128.load offset=${16 * u} ${get(`a${m}`)})`)}`);
    for (let n = 0; n < NR; n++) L.push(`      ${set(`y${n}`, `(v128.load offset=${16 * u} ${get(`w${n}`)})`)}`);
    for (let m = 0; m < MR; m++)
      for (let n = 0; n < NR; n++) L.push(`      ${set(`s${m}_${n}`, vadd(get(`s${m}_${n}`), vmul(get(`x${m}`), get(`y${n}`))))}`);
  }
  for (let m = 0; m < MR; m++) L.push(`      ${set(`a${m}`, add(get(`a${m}`), I(64)))}`);
  for (let n = 0; n < NR; n++) L.push(`      ${set(`w${n}`, add(get(`w${n}`), I(64)))}`);
  L.push(`      (br_if $k (i32.lt_u ${get('a0')} ${get('end')})))`);
  for (let m = 0; m < MR; m++)
    for (let n = 0; n < NR; n++) storeSum(L, '    ', `s${m}_${n}`, add(get('c'), add(mul(get('ldc'), I(m)), I(4 * n))));
  L.push('  )');
}

const MAX_MR = 4;
const MAX_NR = 4;

/**
 * The export `mm`: for each chunk of kc values of K, for each group of up to 4 rows of A, for each
 * group of up to $nStep rows of W: the tile of that size (the first chunk stores, later ones add).
 */
function mmFunc(L) {
  L.push(
    '  (func (export "mm") (param $a i32) (param $lda i32) (param $w i32) (param $ldw i32) (param $c i32) (param $ldc i32) (param $M i32) (param $N i32) (param $Kp i32) (param $kc i32) (param $nStep i32) (param $acc i32)',
  );
  L.push('    (local $k0 i32) (local $m0 i32) (local $n0 i32) (local $mr i32) (local $nr i32) (local $len i32)');
  L.push(`    (block $kd (loop $kl (br_if $kd (i32.ge_u ${get('k0')} ${get('Kp')}))`);
  L.push(
    `      ${set('len', `(select ${get('kc')} (i32.sub ${get('Kp')} ${get('k0')}) (i32.lt_u ${add(get('k0'), get('kc'))} ${get('Kp')}))`)}`,
  );
  L.push(`      ${set('m0', I(0))}`);
  L.push(`      (block $md (loop $ml (br_if $md (i32.ge_u ${get('m0')} ${get('M')}))`);
  L.push(
    `        ${set('mr', `(select ${I(MAX_MR)} (i32.sub ${get('M')} ${get('m0')}) (i32.lt_u ${add(get('m0'), I(MAX_MR))} ${get('M')}))`)}`,
  );
  L.push(`        ${set('n0', I(0))}`);
  L.push(`        (block $nd (loop $nl (br_if $nd (i32.ge_u ${get('n0')} ${get('N')}))`);
  L.push(
    `          ${set('nr', `(select ${get('nStep')} (i32.sub ${get('N')} ${get('n0')}) (i32.lt_u ${add(get('n0'), get('nStep'))} ${get('N')}))`)}`,
  );
  const args = [
    add(get('a'), add(mul(get('m0'), get('lda')), `(i32.shl ${get('k0')} ${I(2)})`)),
    get('lda'),
    add(get('w'), add(mul(get('n0'), get('ldw')), `(i32.shl ${get('k0')} ${I(2)})`)),
    get('ldw'),
    add(get('c'), add(mul(get('m0'), get('ldc')), `(i32.shl ${get('n0')} ${I(2)})`)),
    get('ldc'),
    get('len'),
    `(i32.or ${get('acc')} (i32.ne ${get('k0')} ${I(0)}))`,
  ].join(' ');
  // Dispatch on (mr, nr) through a block ladder: br_table index (mr − 1)·MAX_NR + nr − 1.
  const names = [];
  for (let m = 1; m <= MAX_MR; m++) for (let n = 1; n <= MAX_NR; n++) names.push(`${m}x${n}`);
  const idx = add(mul(`(i32.sub ${get('mr')} ${I(1)})`, I(MAX_NR)), `(i32.sub ${get('nr')} ${I(1)})`);
  L.push('          (block $t_end');
  for (let i = names.length - 1; i >= 0; i--) L.push(`          (block $t_${names[i]}`);
  L.push(`          (br_table ${names.map((n) => `$t_${n}`).join(' ')} $t_end ${idx}))`);
  names.forEach((n, i) => {
    const close = i === names.length - 1 ? ')' : '';
    L.push(`          (call $tile${n} ${args}) (br $t_end)${i < names.length - 1 ? ')' : ''}${close}`);
  });
  L.push(`          ${set('n0', add(get('n0'), get('nr')))}`);
  L.push('          (br $nl)))');
  L.push(`        ${set('m0', add(get('m0'), get('mr')))}`);
  L.push('        (br $ml)))');
  L.push(`      ${set('k0', add(get('k0'), get('len')))}`);
  L.push('      (br $kl)))');
  L.push('  )');
}

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
    '    (local $r i32) (local $j i32) (local $end i32) (local $k i32) (local $v v128) (local $h v128) (local $sc v128) (local $zc v128)',
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
  L.push('        (loop $u');
  unpack16(L, '          ', get('w'), 'd');
  for (let m = 0; m < MR; m++) {
    const p = (j) => vmul(`(v128.load offset=${16 * j} ${get(`a${m}`)})`, get(`d${j}`));
    L.push(`          ${set(`s${m}`, vadd(get(`s${m}`), vadd(p(0), p(1))))}`);
    L.push(`          ${set(`t${m}`, vadd(get(`t${m}`), vadd(p(2), p(3))))}`);
    L.push(`          ${set(`a${m}`, add(get(`a${m}`), I(64)))}`);
  }
  L.push(`          ${set('w', add(get('w'), I(8)))}`);
  L.push(`          (br_if $u (i32.lt_u ${get('w')} ${get('end')})))`);
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
export function nbitsWat() {
  const L = [';; Generated by scripts/build-wasm.mjs from scripts/nbits-wat.mjs: do not edit; edit the generator and rerun it.'];
  L.push('(module');
  L.push('  (import "env" "memory" (memory 1))');
  dequantFunc(L);
  for (let m = 1; m <= MAX_MR; m++) for (let n = 1; n <= MAX_NR; n++) tileFunc(L, m, n);
  mmFunc(L);
  for (let m = 1; m <= MAX_MR; m++) gemvFunc(L, m);
  gemvExport(L);
  L.push(')');
  return `${L.join('\n')}\n`;
}
