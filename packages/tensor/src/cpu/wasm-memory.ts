// Small helpers shared by the WebAssembly kernels of the CPU backend (GEMM, norms).

/** Decodes the base64 text of a generated kernel module. @example new WebAssembly.Module(decodeBase64(GEMM_WASM_BASE64)) */
export function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Grows `memory` to hold at least `bytes` bytes (throws a RangeError when the engine refuses).
 * Growing detaches an ordinary memory's old ArrayBuffer: re-create typed-array views afterwards.
 * @example ensureBytes(memory, 1 << 20); const f = new Float32Array(memory.buffer);
 */
export function ensureBytes(memory: WebAssembly.Memory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
}
