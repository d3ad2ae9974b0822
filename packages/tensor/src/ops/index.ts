// The public ops, one file per family; each op's validation, dispatch and definition (with its
// gradient) sit together in its family's file.
export * from './attention.js';
export * from './elementwise.js';
export * from './linear.js';
export * from './movement.js';
export * from './norm-kernels.js';
export * from './reduce.js';
