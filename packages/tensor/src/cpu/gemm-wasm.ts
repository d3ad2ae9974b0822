// The WebAssembly SIMD path of gemmF32, and its worker-thread split.
//
// Layout of the (shared, when possible) WebAssembly.Memory:
//   [0, 4096)        control words: one block of 32 int32 per helper thread (see CTRL_* below)
//   arena            packed copies of constant weights (`markConstant`), kept between calls
//   A, B             copies of the operands as given (row-major, possibly transposed)
//   packed B         all of op(B), packed once by the calling thread: for each KC block of k, for each
//                    NR-wide column panel, kc rows of NR floats (zero-padded past N)
//   C                the product op(A)·op(B), Mp × Np (padded to the tile sizes), row stride Np
//   packed A × T     one scratch area per thread for its current chunk (≤ MC rows) × KC of op(A)
// Threads take chunks of rows of C (multiples of MR) from a shared counter and compute them with
// `gemmRows`; the caller then copies C out applying α and β. The API stays synchronous: the calling
// thread signals the helpers with Atomics.notify, takes chunks itself until none are left, then
// blocks in Atomics.wait until the helpers have finished theirs.

import { isConstantData } from '../constant-data.js';
import {
  GEMM_FMA_WASM_BASE64,
  GEMM_FMA_WASM_SHARED_BASE64,
  GEMM_MR,
  GEMM_NR,
  GEMM_WASM_BASE64,
  GEMM_WASM_SHARED_BASE64,
  RELAXED_SIMD_PROBE_BASE64,
} from './gemm-wasm.generated.js';
import { NBITS_WASM_BASE64, NBITS_WASM_SHARED_BASE64 } from './nbits-wasm.generated.js';
import { type GemmExports, gemmRows, JOB_GEMM, JOB_NBITS, type NBitsExports, nbitsRows } from './wasm-jobs.js';
import { decodeBase64, ensureBytes } from './wasm-memory.js';

/** Block sizes: KC rows of k per packed block, MC rows of C per packed A block (a multiple of MR). */
const KC = 256;
const MC_TARGET = 120;
const CTRL_BYTES = 4096;
const CTRL_STRIDE = 32; // int32 words per helper
// Control words (per helper, at helper·CTRL_STRIDE):
const GO = 0; // job sequence number, bumped by the caller
const DONE = 1; // last job sequence finished by the helper
const CLAIM = 2; // job sequence claimed by the helper (or -seq when the caller took it back)
const READY = 3; // 1 once the helper listens
const FAILED = 4; // 1 when the helper's last job threw
const EXIT = 5; // 1 asks the helper to stop
const DESC = 8; // job description: its kind (JOB_GEMM, JOB_NBITS), then the job function's arguments after `memory`
/** Word of the shared chunk counter (after the helpers' blocks). */
const COUNTER = CTRL_BYTES / 4 - 1;

/** gemmRows' arguments after the exports and the memory: what a GEMM job description holds. */
type JobArgs = Parameters<typeof gemmRows> extends [GemmExports, WebAssembly.Memory, ...infer R] ? R : never;

/** The helper thread's program (run with `new Worker(source, { eval: true })`). */
function helperSource(): string {
  return `'use strict';
const __name = (f) => f; // in case a bundler's keepNames wrapped the function below
const { workerData } = require('node:worker_threads');
const { memory, module, nbitsModule, index } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const nx = nbitsModule ? new WebAssembly.Instance(nbitsModule, { env: { memory } }).exports : undefined;
const gemmRows = ${gemmRows.toString()};
const nbitsRows = ${nbitsRows.toString()};
const base = index * ${CTRL_STRIDE};
const ctrl = new Int32Array(memory.buffer, 0, ${CTRL_BYTES / 4});
Atomics.store(ctrl, base + ${READY}, 1);
let seen = Atomics.load(ctrl, base + ${GO});
for (;;) {
  Atomics.wait(ctrl, base + ${GO}, seen);
  const go = Atomics.load(ctrl, base + ${GO});
  if (go === seen) continue;
  seen = go;
  if (Atomics.load(ctrl, base + ${EXIT}) === 1) break;
  if (Atomics.compareExchange(ctrl, base + ${CLAIM}, go - 1, go) !== go - 1) continue;
  Atomics.notify(ctrl, base + ${CLAIM});
  let failed = 0;
  try {
    const d = base + ${DESC};
    if (ctrl[d] === ${JOB_GEMM}) gemmRows(ex, memory, ...ctrl.subarray(d + 1, d + ${gemmRows.length - 1}));
    else nbitsRows(nx, ex, memory, ...ctrl.subarray(d + 1, d + ${nbitsRows.length - 2}));
  } catch (e) {
    failed = 1;
  }
  Atomics.store(ctrl, base + ${FAILED}, failed);
  Atomics.store(ctrl, base + ${DONE}, go);
  Atomics.notify(ctrl, base + ${DONE});
}
`;
}

interface Helper {
  index: number;
  seq: number;
  worker: { terminate(): unknown; unref(): void };
}

interface WasmState {
  MR: number;
  NR: number;
  /** The micro-kernel multiply-adds with relaxed SIMD's fused f32x4.relaxed_madd. */
  fma: boolean;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  ex: GemmExports;
  /** The 4-bit kernels on the same memory (absent for a tile width other than 8 columns). */
  nbitsModule: WebAssembly.Module | undefined;
  nx: NBitsExports | undefined;
  shared: boolean;
  helpers: Helper[];
  /** Control blocks are never reused (a stopped helper may still read its old block). */
  nextIndex: number;
  /** False once helpers failed, or when threads are unavailable. */
  threadsOk: boolean;
  /** Packed constant weights kept in the memory (see `packedConstant`). */
  arena: Arena;
}

let state: WasmState | null | undefined;
let lastThreads = 0;
let threadSetting: number | undefined;

function nodeWorkerThreads():
  | { Worker: new (src: string, opts: object) => Helper['worker'] & { on(ev: string, fn: (...a: unknown[]) => void): void } }
  | undefined {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node || typeof proc.getBuiltinModule !== 'function') return undefined;
  try {
    return proc.getBuiltinModule('node:worker_threads') as ReturnType<typeof nodeWorkerThreads>;
  } catch {
    return undefined;
  }
}

function envThreads(): number | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const v = proc?.env?.NORMKIT_THREADS;
  if (v === undefined || v === '') return undefined;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 1 ? n : undefined;
}

let hwThreads: number | undefined;
/** Cores available to this process (never oversubscribe them). */
function hardwareThreads(): number {
  hwThreads ??= defaultThreads(64);
  return hwThreads;
}

function defaultThreads(cap = 4): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number; cpus(): unknown[] } | undefined;
    if (os) return Math.min(cap, os.availableParallelism?.() ?? os.cpus().length);
  } catch {
    // not Node
  }
  return 1;
}

/**
 * Number of threads the CPU GEMM uses for large products (the calling thread plus helpers).
 * Defaults to `NORMKIT_THREADS` when set, else the machine's parallelism (at most 4).
 * @example gemmThreads() // 2 on a two-core machine
 */
export function gemmThreads(): number {
  return threadSetting ?? envThreads() ?? defaultThreads();
}

/**
 * Sets how many threads the CPU GEMM may use (1 = never start worker threads). Only Node starts
 * helpers; elsewhere the setting is ignored. Returns the previous setting.
 * @example const prev = setGemmThreads(1); try { matmul(a, b) } finally { setGemmThreads(prev) }
 */
export function setGemmThreads(n: number): number {
  const prev = gemmThreads();
  threadSetting = Math.max(1, Math.floor(n));
  return prev;
}

let fmaAllowed = true;

/**
 * Allows (default) or forbids the fused multiply-add GEMM variant where the engine has relaxed SIMD;
 * `false` gives bit-for-bit the separate multiply and add. Resets the kernel. Returns the previous setting.
 * @example const prev = setGemmFma(false); try { matmul(a, b) } finally { setGemmFma(prev) }
 */
export function setGemmFma(on: boolean): boolean {
  const prev = fmaAllowed;
  if (on !== prev) {
    disposeGemmThreads();
    fmaAllowed = on;
    state = undefined;
  }
  return prev;
}

/** Whether products multiply-add with relaxed SIMD's FMA (allowed, and the engine has it); for the kernels that reuse the GEMM's. */
export function gemmFmaOn(): boolean {
  return fmaAllowed && relaxedSimd() !== 'none';
}

let kernelOverride: { plain: Uint8Array<ArrayBuffer>; shared: Uint8Array<ArrayBuffer>; MR: number; NR: number } | undefined;

/**
 * Replaces the kernel by another build (for the tile-size sweep in bench/); resets the state.
 * @example useGemmKernel({ plain, shared, MR: 4, NR: 8 })
 */
export function useGemmKernel(
  k: { plain: Uint8Array<ArrayBuffer>; shared: Uint8Array<ArrayBuffer>; MR: number; NR: number } | undefined,
): void {
  disposeGemmThreads();
  kernelOverride = k;
  state = undefined;
}

function init(): WasmState | null {
  if (typeof WebAssembly !== 'object' || typeof atob !== 'function') return null;
  const MR = kernelOverride?.MR ?? GEMM_MR;
  const NR = kernelOverride?.NR ?? GEMM_NR;
  const tryShared = typeof SharedArrayBuffer === 'function' && typeof Atomics === 'object';
  // Relaxed SIMD (browsers, Node ≥ 20) gives the fused multiply-add variant; its results may differ
  // from the separate multiply and add in the last bit, as any FMA GEMM's do.
  const fma = !kernelOverride && gemmFmaOn();
  for (const shared of tryShared ? [true, false] : [false]) {
    try {
      const bytes = kernelOverride
        ? shared
          ? kernelOverride.shared
          : kernelOverride.plain
        : decodeBase64(
            fma ? (shared ? GEMM_FMA_WASM_SHARED_BASE64 : GEMM_FMA_WASM_BASE64) : shared ? GEMM_WASM_SHARED_BASE64 : GEMM_WASM_BASE64,
          );
      const module = new WebAssembly.Module(bytes);
      const memory = new WebAssembly.Memory(shared ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 });
      const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
      // dequantB writes the micro-kernel's 8-column panels: another tile width has no 4-bit path.
      const nbitsModule =
        NR === 8 ? new WebAssembly.Module(decodeBase64(shared ? NBITS_WASM_SHARED_BASE64 : NBITS_WASM_BASE64)) : undefined;
      const nx = nbitsModule && (new WebAssembly.Instance(nbitsModule, { env: { memory } }).exports as unknown as NBitsExports);
      const arena = newArena();
      return { MR, NR, fma, memory, module, ex, nbitsModule, nx, shared, helpers: [], nextIndex: 0, threadsOk: shared, arena };
    } catch {
      // SIMD, threads or shared memory unavailable: try the next variant, then give up (JS path).
    }
  }
  return null;
}

let relaxed: RelaxedSimd | undefined;

/**
 * Whether the engine has relaxed SIMD ('engine'), has it after normkit turned on V8's flag ('flag'),
 * or lacks it ('none'). Node 20's V8 (11.3) holds the finished relaxed SIMD behind
 * `--experimental-wasm-relaxed-simd`, one V8 release before it shipped on by default (Node 22);
 * the flag only widens what WebAssembly accepts, so it is turned on there unless
 * `NORMKIT_RELAXED_SIMD=0`. Worker threads share the process's flags.
 * @example relaxedSimd() // 'flag' in Node 20, 'engine' in Node 22 and Chrome
 */
export function relaxedSimd(): RelaxedSimd {
  if (relaxed !== undefined) return relaxed;
  const probe = decodeBase64(RELAXED_SIMD_PROBE_BASE64);
  relaxed = WebAssembly.validate(probe) ? 'engine' : 'none';
  const proc = (globalThis as { process?: NodeProcessLike }).process;
  if (relaxed === 'none' && proc?.versions?.node?.split('.')[0] === '20' && proc.env?.NORMKIT_RELAXED_SIMD !== '0') {
    try {
      (proc.getBuiltinModule?.('node:v8') as { setFlagsFromString(flag: string): void } | undefined)?.setFlagsFromString(
        '--experimental-wasm-relaxed-simd',
      );
      if (WebAssembly.validate(probe)) relaxed = 'flag';
    } catch {
      // no node:v8 (a sandboxed or bundled runtime): keep the separate multiply and add
    }
  }
  return relaxed;
}

/** See `relaxedSimd`. */
export type RelaxedSimd = 'engine' | 'flag' | 'none';

interface NodeProcessLike {
  versions?: { node?: string };
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

/** The kernels' memory, modules and threads, for the 4-bit product (nbits-wasm.ts) that shares them. */
export type KernelState = WasmState;

/** The kernel state (compiled on first call), or null without WebAssembly SIMD. */
export function kernelState(): KernelState | null {
  if (state === undefined) state = init();
  return state;
}

/** Grows `s`'s memory to `bytes`; false when wasm32 or the engine will not go that far. */
export function reserveBytes(s: KernelState, bytes: number): boolean {
  if (bytes > 2 ** 32 - 65536) return false;
  try {
    ensureBytes(s.memory, bytes);
    return true;
  } catch {
    return false;
  }
}

/** Threads a 4-bit product of `work` multiply-adds should use (1 when too small to split, or threads are off). */
export function nbitsThreads(s: KernelState, work: number): number {
  return work >= THREAD_MIN_WORK && s.threadsOk ? Math.min(gemmThreads(), hardwareThreads()) : 1;
}

/**
 * Runs a 4-bit job (`nbitsRows`' arguments after the memory; thread t's from `args(t)`) on up to
 * `threads` threads: the caller and the helpers listening now.
 */
export function runNBitsJob(s: KernelState, threads: number, args: (thread: number) => NBitsJobArgs): void {
  const ready = readyHelpers(s, threads);
  lastThreads = 1 + ready.length;
  runJob(s, ready, JOB_NBITS, args);
}

/** The word of the shared chunk counter jobs take chunks from. */
export const JOB_COUNTER = COUNTER;

/** Whether the WebAssembly SIMD kernel is available (compiled on first call). @example wasmGemmAvailable() // true in Node 20 */
export function wasmGemmAvailable(): boolean {
  if (state === undefined) state = init();
  return state !== null;
}

function startHelpers(s: WasmState, count: number): void {
  const wt = nodeWorkerThreads();
  if (!wt) {
    s.threadsOk = false;
    return;
  }
  const src = helperSource();
  while (s.helpers.length < count && (s.nextIndex + 1) * CTRL_STRIDE < COUNTER) {
    const index = s.nextIndex++;
    try {
      const worker = new wt.Worker(src, {
        eval: true,
        workerData: { memory: s.memory, module: s.module, nbitsModule: s.nbitsModule, index },
      });
      worker.unref();
      worker.on('error', () => {
        s.threadsOk = false;
      });
      s.helpers.push({ index, seq: 0, worker });
    } catch {
      s.threadsOk = false;
      return;
    }
  }
}

/** Up to `want` − 1 helpers that are listening now (more are started for later calls). */
function readyHelpers(s: WasmState, want: number): Helper[] {
  if (want > 1 && s.helpers.length < want - 1) startHelpers(s, want - 1);
  const ctrl = new Int32Array(s.memory.buffer, 0, CTRL_BYTES / 4);
  return s.helpers.filter((h) => Atomics.load(ctrl, h.index * CTRL_STRIDE + READY) === 1).slice(0, want - 1);
}

/** nbitsRows' arguments after the exports and the memory: what a 4-bit job description holds. */
export type NBitsJobArgs = Parameters<typeof nbitsRows> extends [NBitsExports, GemmExports, WebAssembly.Memory, ...infer R] ? R : never;

/**
 * Runs one job of `kind` on the calling thread (with `args(0)`) and on `ready`'s helpers (helper i
 * with `args(i + 1)`: their scratch areas differ), all taking chunks from the shared counter, and
 * returns when every chunk is done. If a helper threw, threads are switched off and the caller redoes
 * the whole job alone.
 */
function runJob(s: WasmState, ready: Helper[], kind: number, args: (thread: number) => number[]): void {
  const ctrl = new Int32Array(s.memory.buffer, 0, CTRL_BYTES / 4);
  Atomics.store(ctrl, COUNTER, 0);
  ready.forEach((h, i) => {
    const base = h.index * CTRL_STRIDE;
    ctrl[base + DESC] = kind;
    ctrl.set(args(i + 1), base + DESC + 1);
    h.seq++;
    Atomics.store(ctrl, base + CLAIM, h.seq - 1);
    Atomics.store(ctrl, base + GO, h.seq);
    Atomics.notify(ctrl, base + GO);
  });
  const run = () => {
    if (kind === JOB_GEMM) gemmRows(s.ex, s.memory, ...(args(0) as JobArgs));
    else nbitsRows(s.nx as NBitsExports, s.ex, s.memory, ...(args(0) as NBitsJobArgs));
  };
  run();
  let failed = false;
  for (const h of ready) {
    const base = h.index * CTRL_STRIDE;
    // A helper that has not picked the job up yet is told not to (the chunks are all taken anyway).
    if (Atomics.compareExchange(ctrl, base + CLAIM, h.seq - 1, -h.seq) === h.seq - 1) continue;
    while (Atomics.load(ctrl, base + DONE) !== h.seq) Atomics.wait(ctrl, base + DONE, Atomics.load(ctrl, base + DONE), 1000);
    if (Atomics.load(ctrl, base + FAILED) !== 0) failed = true;
  }
  if (failed) {
    // A helper threw part-way through a chunk: switch threads off and redo the job here.
    s.threadsOk = false;
    Atomics.store(ctrl, COUNTER, 0);
    run();
  }
}

const align = (n: number) => Math.ceil(n / 64) * 64;

/** A region of the kernel's memory holding one packed constant op(B). */
export interface PackedBlock {
  off: number;
  bytes: number;
  /** False until the first product using it has packed it. */
  packed: boolean;
}

/**
 * The persistent part of the memory, after the control words: packed constant weights, allocated
 * first-fit from a free list (weights of one model come in few sizes), freed when their source array
 * is garbage-collected. Per-call areas start at `top`.
 */
export interface Arena {
  top: number;
  free: { off: number; bytes: number }[];
  blocks: WeakMap<object, Map<string, PackedBlock>>;
  bytes: number;
  collector?: FinalizationRegistry<Map<string, PackedBlock>>;
}

/** The most the arena may hold: per-call areas and the 4 GiB limit of wasm32 need the rest. */
const ARENA_MAX_BYTES = 2 ** 31;

function newArena(): Arena {
  const arena: Arena = { top: CTRL_BYTES, free: [], blocks: new WeakMap(), bytes: 0 };
  if (typeof FinalizationRegistry === 'function')
    arena.collector = new FinalizationRegistry((blocks) => {
      for (const b of blocks.values()) releaseBlock(arena, b);
    });
  return arena;
}

function releaseBlock(arena: Arena, b: PackedBlock): void {
  arena.bytes -= b.bytes;
  if (b.off + b.bytes === arena.top) arena.top = b.off;
  else arena.free.push({ off: b.off, bytes: b.bytes });
  // Lower the top over free regions that now end at it.
  for (
    let i = arena.free.findIndex((f) => f.off + f.bytes === arena.top);
    i >= 0;
    i = arena.free.findIndex((f) => f.off + f.bytes === arena.top)
  ) {
    arena.top = (arena.free[i] as { off: number }).off;
    arena.free.splice(i, 1);
  }
}

/**
 * The arena block for constant `B` (at `bOff`, op(B) of K × N packed for NR-wide panels), allocated
 * on first use; undefined when B is not marked constant or the arena is full.
 */
function packedConstant(
  arena: Arena,
  B: Float32Array,
  bOff: number,
  K: number,
  N: number,
  Np: number,
  transB: boolean,
): PackedBlock | undefined {
  if (!isConstantData(B)) return undefined;
  return arenaBlock(arena, B, `${bOff}:${K}:${N}:${transB ? 1 : 0}`, align(K * Np * 4));
}

/**
 * The arena block of `bytes` kept for constant data `owner` under `key` (a layout of it), allocated
 * first-fit on first use and freed when `owner` is garbage-collected; undefined when the arena is full.
 */
export function arenaBlock(arena: Arena, owner: object, key: string, bytes: number): PackedBlock | undefined {
  let mine = arena.blocks.get(owner);
  const hit = mine?.get(key);
  if (hit) return hit;
  if (arena.bytes + bytes > ARENA_MAX_BYTES) return undefined;
  const i = arena.free.findIndex((f) => f.bytes >= bytes);
  let off: number;
  if (i >= 0) {
    const f = arena.free[i] as { off: number; bytes: number };
    off = f.off;
    if (f.bytes > bytes) arena.free[i] = { off: f.off + bytes, bytes: f.bytes - bytes };
    else arena.free.splice(i, 1);
  } else {
    off = arena.top;
    arena.top += bytes;
  }
  const block: PackedBlock = { off, bytes, packed: false };
  arena.bytes += bytes;
  if (!mine) {
    mine = new Map();
    arena.blocks.set(owner, mine);
    arena.collector?.register(owner, mine);
  }
  mine.set(key, block);
  return block;
}

/** Drops a block that was never packed (its product fell back to the JS path). */
export function forgetBlock(arena: Arena, B: object, b: PackedBlock): void {
  const mine = arena.blocks.get(B);
  for (const [k, v] of mine ?? []) if (v === b) mine?.delete(k);
  releaseBlock(arena, b);
}

/** Packs op(B) (a K × N row-major copy at byte `bAt`) into the KC-blocked, NR-panel layout at byte `bpAt`. */
function packOpB(s: WasmState, f: Float32Array, bAt: number, bpAt: number, K: number, N: number, Np: number, transB: boolean): void {
  const { NR } = s;
  const full = Math.floor(N / NR);
  for (let pc = 0; pc < K; pc += KC) {
    const kc = Math.min(KC, K - pc);
    const block = bpAt + pc * Np * 4;
    if (!transB) {
      s.ex.packB(bAt + pc * N * 4, N * 4, block, kc, full);
      if (full * NR < N) {
        let dst = (block >>> 2) + full * kc * NR;
        for (let k = 0; k < kc; k++) {
          const src = (bAt >>> 2) + (pc + k) * N;
          for (let c = 0; c < NR; c++) f[dst++] = full * NR + c < N ? f[src + full * NR + c]! : 0;
        }
      }
    } else {
      for (let j = 0; j * NR < N; j++)
        s.ex.packBT(bAt + (j * NR * K + pc) * 4, K * 4, block + j * kc * NR * 4, kc, Math.min(NR, N - j * NR));
    }
  }
}

/** Products smaller than this many multiply-adds stay on one thread. */
const THREAD_MIN_WORK = 128 * 128 * 256;

/**
 * Writes op(B) directly in the packed layout: floats at `bp + pc·Np + j·kc·NR + (k − pc)·NR + c` hold
 * op(B)[k][j·NR + c] for each KC block starting at pc (kc = min(KC, K − pc)), zero for columns ≥ N.
 * Lets a caller (convolution's im2col) skip materializing B.
 */
export type PackBFn = (f: Float32Array, bp: number, Np: number, KC: number, NR: number, ex: GemmKernels, scratch: number) => void;

/** The kernels a `PackBFn` may call (byte addresses into the memory `f` views). */
export interface GemmKernels {
  im2colRow(src: number, sw4: number, lo: number, hi: number, ow: number, ptr: number, rowBase: number, step: number): number;
}

/** A custom op(B) writer and the scratch bytes it needs in the kernel's memory (for its inputs). */
export interface PackB {
  fill: PackBFn;
  scratchBytes: number;
}

/**
 * C = α·op(A)·op(B) + β·C (+ `bias`, N values added to every row) with the WebAssembly kernel; C's
 * rows are `ldc` apart (> N: C is a column block of a wider matrix).
 * Returns false (doing nothing) when the kernel is unavailable; the caller then runs the JS path.
 */
export function gemmWasm(
  A: Float32Array,
  aOff: number,
  B: Float32Array,
  bOff: number,
  C: Float32Array,
  cOff: number,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
  packB?: PackB,
  bias?: Float32Array,
  ldc = N,
): boolean {
  if (state === undefined) state = init();
  const s = state;
  if (!s) return false;
  const { MR, NR } = s;
  const MC = Math.floor(MC_TARGET / MR) * MR;
  const Mp = Math.ceil(M / MR) * MR;
  const Np = Math.ceil(N / NR) * NR;
  // C's row stride: avoid multiples of 1 KiB, whose rows alias in the L1 cache.
  const ldcF = Np % 256 === 0 ? Np + 16 : Np;
  const want =
    M * N * K >= THREAD_MIN_WORK && M >= 2 * MR && s.threadsOk ? Math.min(gemmThreads(), hardwareThreads(), Math.floor(M / MR)) : 1;
  const ready = readyHelpers(s, want);
  const T = 1 + ready.length;
  lastThreads = T;
  const cached = packB ? undefined : packedConstant(s.arena, B, bOff, K, N, Np, transB);
  const aBytes = align(M * K * 4);
  const bBytes = packB || cached?.packed ? 0 : align(K * N * 4);
  const aAt = s.arena.top;
  const bAt = aAt + aBytes;
  const bpAt = cached ? cached.off : bAt + bBytes;
  const cAt = cached ? bAt + bBytes : bpAt + align(K * Np * 4);
  const packAt = cAt + align(Mp * ldcF * 4);
  const packBytes = align(MC * KC * 4);
  const scratchAt = packAt + T * packBytes;
  const biasAt = scratchAt + align(packB?.scratchBytes ?? 0);
  const total = biasAt + (bias ? align(Np * 4) : 0);
  if (total > 2 ** 32 - 65536) {
    if (cached && !cached.packed) forgetBlock(s.arena, B, cached);
    return false;
  }
  try {
    ensureBytes(s.memory, total);
  } catch {
    if (cached && !cached.packed) forgetBlock(s.arena, B, cached);
    return false; // the engine would not grow the memory: the JS path needs no extra copy
  }
  const mem = s.memory;
  let f = new Float32Array(mem.buffer);
  f.set(A.subarray(aOff, aOff + M * K), aAt >>> 2);
  if (packB) packB.fill(f, bpAt >>> 2, Np, KC, NR, s.ex, scratchAt);
  else if (!cached?.packed) {
    // Pack op(B) once for every thread (and, for a constant weight, once for every later call).
    f.set(B.subarray(bOff, bOff + K * N), bAt >>> 2);
    packOpB(s, f, bAt, bpAt, K, N, Np, transB);
    if (cached) cached.packed = true;
  }
  // The micro-kernel starts every row of C from the bias (zero-padded to Np).
  if (bias) {
    f.set(bias.subarray(0, N), biasAt >>> 2);
    f.fill(0, (biasAt >>> 2) + N, (biasAt >>> 2) + Np);
  }
  // Work chunks: rows in pieces of at most MC (multiples of MR); with helpers, the columns are cut
  // too until there are at least 4 chunks per thread, so that dynamic scheduling can even out uneven
  // progress and a short, wide product (M ≪ N, as in convolutions) still splits.
  const rowChunks = Math.ceil(M / MC);
  const chunkRows = Math.ceil(M / rowChunks / MR) * MR;
  const colChunks = T > 1 ? Math.max(1, Math.min(Np / NR, Math.ceil((4 * T) / rowChunks))) : 1;
  const job = (packOff: number): JobArgs => [
    M,
    K,
    transA ? 1 : 0,
    aAt,
    bpAt,
    cAt,
    Np,
    chunkRows,
    COUNTER,
    packOff,
    KC,
    MR,
    NR,
    ldcF,
    colChunks,
    bias ? biasAt : 0,
  ];
  runJob(s, ready, JOB_GEMM, (t) => job(packAt + t * packBytes));
  // Copy out: C = α·P + β·C.
  f = new Float32Array(mem.buffer);
  const c0 = cAt >>> 2;
  if (alpha === 1 && beta === 0 && ldcF === N && ldc === N) {
    C.set(f.subarray(c0, c0 + M * N), cOff);
    return true;
  }
  for (let i = 0; i < M; i++) {
    const src = c0 + i * ldcF;
    const dst = cOff + i * ldc;
    if (alpha === 1 && beta === 0) C.set(f.subarray(src, src + N), dst);
    else if (beta === 0) for (let j = 0; j < N; j++) C[dst + j] = alpha * f[src + j]!;
    else for (let j = 0; j < N; j++) C[dst + j] = alpha * f[src + j]! + beta * C[dst + j]!;
  }
  return true;
}

/** What the CPU GEMM is using. */
export interface GemmInfo {
  /** The WebAssembly SIMD kernel is loaded (else the JS loop runs). */
  wasm: boolean;
  /** Its memory is shared (worker threads possible). */
  sharedMemory: boolean;
  /** Register tile of the micro-kernel, e.g. "4x8". */
  tile: string;
  /** The micro-kernel uses relaxed SIMD's fused multiply-add (engines with relaxed SIMD; see `relaxedSimd`). */
  fma: boolean;
  /** Helper threads started. */
  helpers: number;
  /** Threads that computed the last WebAssembly product. */
  lastThreads: number;
  /** Bytes of constant weights (`markConstant`) kept packed in the kernel's memory. */
  packedBytes: number;
}

/**
 * Reports the GEMM configuration (loads the kernel if needed).
 * @example gemmInfo() // { wasm: true, sharedMemory: true, tile: '4x8', fma: true, helpers: 1, lastThreads: 2, packedBytes: 0 }
 */
export function gemmInfo(): GemmInfo {
  const ok = wasmGemmAvailable();
  const s = state;
  return {
    wasm: ok,
    sharedMemory: s?.shared ?? false,
    tile: s ? `${s.MR}x${s.NR}` : 'none',
    fma: s?.fma ?? false,
    helpers: s?.helpers.length ?? 0,
    lastThreads,
    packedBytes: s?.arena.bytes ?? 0,
  };
}

/** Stops the helper threads (they are unref'd, so a process exits without this). @example disposeGemmThreads() */
export function disposeGemmThreads(): void {
  const s = state;
  if (!s) return;
  const ctrl = new Int32Array(s.memory.buffer, 0, CTRL_BYTES / 4);
  for (const h of s.helpers) {
    Atomics.store(ctrl, h.index * CTRL_STRIDE + EXIT, 1);
    Atomics.add(ctrl, h.index * CTRL_STRIDE + GO, 1);
    Atomics.notify(ctrl, h.index * CTRL_STRIDE + GO);
    void h.worker.terminate();
  }
  s.helpers = [];
}
