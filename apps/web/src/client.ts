import type { Reply, Request } from './protocol.js';

/** An error the worker reported: its code (`INVALID_ONNX`, `EXTERNAL_DATA_MISSING`, …) and message. */
export class WorkerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'WorkerError';
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  progress?: (fraction: number, label: string) => void;
}

/**
 * Calls the page's worker: one request at a time per call, with progress callbacks. If the worker
 * dies (out of memory, a crash), every pending call fails with a message instead of hanging.
 *
 * @example
 * ```ts
 * const client = new WorkerClient(new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' }));
 * const info = await client.call<OpenedInfo>({ type: 'zoo', arch: 'gpt2', size: 'tiny' }, (f) => (bar.value = f));
 * ```
 */
export class WorkerClient {
  private next = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (ev: MessageEvent<Reply>) => {
      const r = ev.data;
      const p = this.pending.get(r.id);
      if (!p) return;
      if (r.type === 'progress') p.progress?.(r.fraction, r.label);
      else {
        this.pending.delete(r.id);
        if (r.type === 'done') p.resolve(r.value);
        else p.reject(new WorkerError(r.code, r.message));
      }
    };
    const fail = (message: string) => {
      for (const p of this.pending.values()) p.reject(new WorkerError('WORKER_FAILED', message));
      this.pending.clear();
    };
    worker.onerror = (ev) => fail(`the page's worker stopped: ${ev.message || 'unknown error'} (reload the page to start again)`);
    worker.onmessageerror = () => fail('the worker sent a message the page could not read');
  }

  /** Sends `request` (transferring `transfer`) and resolves with the worker's answer. */
  call<T>(request: Request, progress?: (fraction: number, label: string) => void, transfer: Transferable[] = []): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...(progress ? { progress } : {}) });
      this.worker.postMessage({ id, request }, transfer);
    });
  }
}
