// The work the GEMM's threads share: each function takes chunks of its product from a counter in the
// shared memory (Atomics.add) until none are left, so a slow or descheduled thread simply takes fewer.
// Every function here is self-contained (no outside references): helper threads run them from their
// source text (see gemm-wasm.ts' helperSource), on their own instances of the same modules.

/** The GEMM module's exports the jobs call. */
export interface GemmExports {
  gebp(ap: number, bp: number, cp: number, mPanels: number, nPanels: number, kc: number, ldc: number, acc: number, bias: number): void;
  packB(src: number, ldb: number, dst: number, kc: number, nPanels: number): void;
  packBT(src: number, ldb: number, dst: number, kc: number, cols: number): void;
  packA(src: number, lda: number, dst: number, kc: number, rows: number): void;
  packAT(src: number, lda: number, dst: number, kc: number, rows: number): void;
  im2colRow(src: number, sw4: number, lo: number, hi: number, ow: number, ptr: number, rowBase: number, step: number): number;
}

/** The 4-bit module's exports (src/cpu/nbits.wat). */
export interface NBitsExports {
  dequantB(w: number, s: number, z: number, dst: number, groups: number, blocks: number, block: number): void;
  gemv(
    a: number,
    lda: number,
    w: number,
    s: number,
    z: number,
    c: number,
    ldc: number,
    M: number,
    rows: number,
    blocks: number,
    block: number,
    acc: number,
  ): void;
}

/** Job kinds, the first word of a job description. */
export const JOB_GEMM = 0;
export const JOB_NBITS = 1;

/**
 * Computes C = op(A)·op(B) (+ the Np bias floats at byte `biasAt` in every row, when nonzero) into the
 * padded C area, chunk by chunk: each chunk is `chunkRows` rows by a share of the column panels, over
 * all of K, so each element of C has one owner.
 */
export function gemmRows(
  ex: GemmExports,
  memory: WebAssembly.Memory,
  M: number,
  K: number,
  transA: number,
  aOff: number,
  bpOff: number,
  cOff: number,
  Np: number,
  chunkRows: number,
  counterIdx: number,
  packOff: number,
  kcMax: number,
  MR: number,
  NR: number,
  ldcF: number,
  colChunks: number,
  biasAt: number,
): void {
  const counter = new Int32Array(memory.buffer, 0, counterIdx + 1);
  const ldc = ldcF * 4;
  const nPanels = Np / NR;
  const panelsPer = Math.ceil(nPanels / colChunks);
  const nChunks = Math.ceil(M / chunkRows) * colChunks;
  for (;;) {
    const chunk = Atomics.add(counter, counterIdx, 1);
    if (chunk >= nChunks) break;
    const ic = Math.floor(chunk / colChunks) * chunkRows;
    const j0 = (chunk % colChunks) * panelsPer;
    const np = Math.min(panelsPer, nPanels - j0);
    if (np <= 0) continue;
    const mc = Math.min(chunkRows, M - ic);
    const mp = Math.ceil(mc / MR);
    for (let pc = 0; pc < K; pc += kcMax) {
      const kc = Math.min(kcMax, K - pc);
      let o = packOff;
      for (let i = 0; i < mp; i++) {
        const row0 = ic + i * MR;
        const rows = Math.min(MR, M - row0);
        if (transA === 0) ex.packA(aOff + (row0 * K + pc) * 4, K * 4, o, kc, rows);
        else ex.packAT(aOff + (pc * M + row0) * 4, M * 4, o, kc, rows);
        o += kc * MR * 4;
      }
      const bias = pc === 0 && biasAt ? biasAt + j0 * NR * 4 : 0;
      ex.gebp(packOff, bpOff + (pc * Np + j0 * kc * NR) * 4, cOff + ic * ldc + j0 * NR * 4, mp, np, kc, ldc, pc > 0 ? 1 : 0, bias);
    }
  }
}

/**
 * Columns of C = A · Wᵀ for a 4-bit W, `chunkRows` rows of W (columns of C) per chunk. `panel` = 0:
 * the decode kernel multiplies the M (≤ a few) rows of A at byte `aOff` straight from W's bytes.
 * `panel` = 1: the chunk of W (a multiple of 8 rows) is dequantized into this thread's scratch at
 * `dOff` as the GEMM micro-kernel's 8-column panels, then multiplied into A packed at `apOff`
 * (KC-blocked, `mcp`·MR rows per sweep) by `gebp`. W's bytes, scales and zero points start at `wOff`,
 * `sOff`, `zOff` (row n at n·Kp/2 bytes, n·blocks floats); C's rows are `ldc` bytes apart.
 */
export function nbitsRows(
  nx: NBitsExports,
  ex: GemmExports,
  memory: WebAssembly.Memory,
  panel: number,
  M: number,
  N: number,
  blocks: number,
  block: number,
  aOff: number,
  apOff: number,
  wOff: number,
  sOff: number,
  zOff: number,
  cOff: number,
  ldc: number,
  dOff: number,
  chunkRows: number,
  counterIdx: number,
  kcMax: number,
  MR: number,
  mcp: number,
): void {
  const counter = new Int32Array(memory.buffer, 0, counterIdx + 1);
  const Kp = blocks * block;
  const nChunks = Math.ceil(N / chunkRows);
  for (;;) {
    const chunk = Atomics.add(counter, counterIdx, 1);
    if (chunk >= nChunks) break;
    const n0 = chunk * chunkRows;
    const rows = Math.min(chunkRows, N - n0);
    const w = wOff + (n0 * Kp) / 2;
    const s = sOff + n0 * blocks * 4;
    const z = zOff + n0 * blocks * 4;
    if (panel === 0) {
      for (let r = 0; r < M; r += 4)
        nx.gemv(aOff + r * Kp * 4, Kp * 4, w, s, z, cOff + r * ldc + n0 * 4, ldc, Math.min(4, M - r), rows, blocks, block, 0);
      continue;
    }
    const groups = Math.ceil(rows / 8);
    nx.dequantB(w, s, z, dOff, groups, blocks, block);
    const mp = Math.ceil(M / MR);
    for (let i0 = 0; i0 < mp; i0 += mcp)
      for (let pc = 0; pc < Kp; pc += kcMax) {
        const kc = Math.min(kcMax, Kp - pc);
        const ap = apOff + (pc * mp + i0 * kc) * MR * 4;
        const cp = cOff + i0 * MR * ldc + n0 * 4;
        for (let g = 0; g < groups; g++)
          ex.gebp(ap, dOff + (g * Kp + pc) * 32, cp + g * 32, Math.min(mcp, mp - i0), 1, kc, ldc, pc > 0 ? 1 : 0, 0);
      }
  }
}
