// Where the time of a training step goes, op by op: forward time of each op (process CPU time between
// consecutive op reports to a recorder placed in front of the tape), backward time of each op's
// gradient (its `grad` wrapped), and the tape's own work and the optimizer step. CPU time, not wall
// time, so that other processes on a loaded machine do not show up in the numbers.
//   npx tsx --conditions source bench/profile.ts vit 10      (in packages/train; mlp or vit, steps)
import { fileURLToPath } from 'node:url';
import { listOps, type OpDef, type OpRecorder, opDefinition, setGemmThreads, setOpRecorder, Tensor } from '@normkit/tensor';
import { AdamW, computeGrads, crossEntropy, MLP, type Module, ViT } from '../src/index.js';

/** CPU milliseconds of this process (all threads). */
export const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** One op's share of a step, in CPU ms per step. */
export interface OpCost {
  op: string;
  forwardMs: number;
  backwardMs: number;
  calls: number;
}

/** A step's profile: totals per step (CPU ms) and the ops, costliest first. */
export interface StepProfile {
  stepMs: number;
  forwardMs: number;
  backwardMs: number;
  optimizerMs: number;
  ops: OpCost[];
}

/** The benchmark's networks with a fixed random batch: MLP 784-256-256-10 (batch 128) or ViT-tiny (batch 64), LayerNorm. */
export function benchNetwork(net: 'mlp' | 'vit', seed = 0): { model: Module; x: Tensor; y: Tensor; batch: number } {
  const batch = net === 'vit' ? 64 : 128;
  const model = net === 'vit' ? new ViT({ norm: 'ln', seed }) : new MLP({ norm: 'ln', seed });
  const x = Tensor.rand([batch, 1, 28, 28], seed + 1);
  const y = new Tensor(
    [batch],
    'int32',
    Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10),
  );
  return { model, x, y, batch };
}

/** Wraps every op's gradient to add its CPU time to `into` while `on()`; returns the undo. */
function timeGrads(into: Map<string, number>, on: () => boolean): () => void {
  const undo: (() => void)[] = [];
  for (const name of listOps()) {
    const def = opDefinition(name) as { grad?: OpDef['grad'] };
    const g = def.grad;
    if (!g) continue;
    def.grad = (dy, ctx) => {
      const t0 = cpuMs();
      const r = g(dy, ctx);
      if (on()) into.set(name, (into.get(name) ?? 0) + cpuMs() - t0);
      return r;
    };
    undo.push(() => {
      def.grad = g;
    });
  }
  return () => {
    for (const u of undo) u();
  };
}

/**
 * Profiles `steps` training steps (after 2 warm-up steps) of `model` on one batch with AdamW.
 * @example profileStep(...Object.values(benchNetwork('vit')), 10).ops[0].op
 */
export function profileStep(model: Module, x: Tensor, y: Tensor, steps: number): StepProfile {
  const fwd = new Map<string, number>();
  const bwd = new Map<string, number>();
  const calls = new Map<string, number>();
  let on = false;
  const undo = timeGrads(bwd, () => on);
  const opt = new AdamW(model.parameters(), { lr: 1e-3 });
  const total = { step: 0, fwd: 0, bwd: 0, opt: 0 };
  try {
    for (let s = 0; s < steps + 2; s++) {
      on = s >= 2;
      const t0 = cpuMs();
      let tf = 0;
      computeGrads(() => {
        const tape = setOpRecorder(undefined) as OpRecorder;
        let last = cpuMs();
        setOpRecorder({
          record(def, ctx) {
            if (on) {
              fwd.set(def.name, (fwd.get(def.name) ?? 0) + cpuMs() - last);
              calls.set(def.name, (calls.get(def.name) ?? 0) + 1);
            }
            tape.record(def, ctx);
            last = cpuMs();
          },
        });
        const loss = crossEntropy(model.forward(x), y);
        setOpRecorder(tape);
        tf = cpuMs();
        return loss;
      }, model.parameters());
      const t1 = cpuMs();
      opt.step();
      opt.zeroGrad();
      const t2 = cpuMs();
      if (on) {
        total.step += t2 - t0;
        total.fwd += tf - t0;
        total.bwd += t1 - tf;
        total.opt += t2 - t1;
      }
    }
  } finally {
    undo();
  }
  const ops = [...new Set([...fwd.keys(), ...bwd.keys()])].map((op) => ({
    op,
    forwardMs: (fwd.get(op) ?? 0) / steps,
    backwardMs: (bwd.get(op) ?? 0) / steps,
    calls: (calls.get(op) ?? 0) / steps,
  }));
  ops.sort((a, b) => b.forwardMs + b.backwardMs - a.forwardMs - a.backwardMs);
  return { stepMs: total.step / steps, forwardMs: total.fwd / steps, backwardMs: total.bwd / steps, optimizerMs: total.opt / steps, ops };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  setGemmThreads(1);
  const net = process.argv[2] === 'mlp' ? 'mlp' : 'vit';
  const { model, x, y, batch } = benchNetwork(net);
  const p = profileStep(model, x, y, Number(process.argv[3] ?? 10));
  console.log(
    `${net} batch ${batch}, 1 thread: ${p.stepMs.toFixed(1)} CPU ms per step (${((batch * 1000) / p.stepMs).toFixed(0)} samples per CPU second); forward ${p.forwardMs.toFixed(1)}, backward ${p.backwardMs.toFixed(1)}, optimizer ${p.optimizerMs.toFixed(1)}`,
  );
  console.log(`${'op'.padEnd(16)}${'fwd ms'.padStart(9)}${'bwd ms'.padStart(9)}${'calls'.padStart(7)}`);
  for (const o of p.ops)
    console.log(
      `${o.op.padEnd(16)}${o.forwardMs.toFixed(2).padStart(9)}${o.backwardMs.toFixed(2).padStart(9)}${String(o.calls).padStart(7)}`,
    );
}
