export { AdamW, type AdamWHyper } from './adamw.js';
export { clipGradNorm } from './clip.js';
export { LARS, type LarsHyper, trustRatio } from './lars.js';
export { type BaseHyper, type Group, type Hyper, Optimizer, type OptimizerState, type ParamGroup } from './optimizer.js';
export { type LrSchedule, type WarmupCosineOptions, warmupCosine } from './schedule.js';
export { MomentumOptimizer, SGD, type SgdHyper } from './sgd.js';
