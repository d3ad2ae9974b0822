/**
 * Elementwise formulas as kernel code: unary, parameterised unary and binary ops, written so that
 * GLSL, wasm and JS agree with the CPU backend (no `pow` of negative bases, half-to-even rounding,
 * the same erf approximation).
 */
import type { BinaryOp, UnaryOp, UnaryParamOp } from '@normkit/tensor';
import { type Code, lit } from './codegen.js';

/** Emits the erf approximation the CPU backend uses (Numerical Recipes erfc, rel. error < 1.2e-7). */
function erf(code: Code, v: string): string {
  const z = code.let(`Math.abs(${v})`, 'z');
  const t = code.let(`1.0 / (1.0 + 0.5 * ${z})`, 't');
  const poly = `(1.00002368 + ${t} * (0.37409196 + ${t} * (0.09678418 + ${t} * ((-0.18628806) + ${t} * (0.27886807 + ${t} * ((-1.13520398) + ${t} * (1.48851587 + ${t} * ((-0.82215223) + ${t} * 0.17087277))))))))`;
  const r = code.let(`${t} * Math.exp(0.0 - ${z} * ${z} - 1.26551223 + ${t} * ${poly})`, 'e');
  const out = code.let('0.0', 'e');
  code.push(`if (${v} >= 0.0) { ${out} = 1.0 - ${r}; } else { ${out} = ${r} - 1.0; }`);
  return out;
}

/** tanh without overflow (|x| > 15 is ±1 in float32). */
function tanh(code: Code, v: string): string {
  const c = code.let(`Math.min(Math.max(${v}, -15.0), 15.0)`, 'c');
  const e = code.let(`Math.exp(2.0 * ${c})`, 'e');
  return code.let(`(${e} - 1.0) / (${e} + 1.0)`, 'h');
}

/** sin by reduction to [-π/2, π/2] and the Taylor polynomial to x^13 (error < 1e-7 there). */
function sinPoly(code: Code, v: string): string {
  const r = code.let(`${v} - 6.283185307179586 * Math.floor(${v} * 0.15915494309189535 + 0.5)`, 'ang');
  code.push(
    `if (${r} > 1.5707963267948966) { ${r} = 3.141592653589793 - ${r}; } else if (${r} < -1.5707963267948966) { ${r} = -3.141592653589793 - ${r}; }`,
  );
  const r2 = code.let(`${r} * ${r}`, 'ang');
  const c = [-1 / 6, 1 / 120, -1 / 5040, 1 / 362880, -1 / 39916800, 1 / 6227020800];
  let poly = lit(c[5] as number);
  for (let i = 4; i >= 0; i--) poly = `${lit(c[i] as number)} + ${r2} * (${poly})`;
  return code.let(`${r} * (1.0 + ${r2} * (${poly}))`, 'sn');
}

/** Emits `op(v)`; returns the result expression. */
export function unaryCode(code: Code, op: UnaryOp, v: string): string {
  switch (op) {
    case 'neg':
      return `(0.0 - ${v})`;
    case 'abs':
      return `Math.abs(${v})`;
    case 'exp':
      return `Math.exp(${v})`;
    case 'log':
      return `Math.log(${v})`;
    case 'sqrt':
      return `Math.sqrt(${v})`;
    case 'rsqrt':
      return `(1.0 / Math.sqrt(${v}))`;
    case 'reciprocal':
      return `(1.0 / ${v})`;
    case 'erf':
      return erf(code, v);
    case 'tanh':
      return tanh(code, v);
    case 'sigmoid': {
      const e = code.let(`Math.exp(0.0 - Math.abs(${v}))`, 'e');
      const s = code.let(`1.0 / (1.0 + ${e})`, 's');
      code.push(`if (${v} < 0.0) { ${s} = ${e} / (1.0 + ${e}); }`);
      return s;
    }
    case 'relu':
      return `Math.max(${v}, 0.0)`;
    case 'gelu': {
      const w = code.let(`${v} * 0.7071067811865476`, 'w');
      return `(0.5 * ${v} * (1.0 + ${erf(code, w)}))`;
    }
    case 'geluTanh': {
      const w = code.let(`0.7978845608028654 * (${v} + 0.044715 * ${v} * ${v} * ${v})`, 'w');
      return `(0.5 * ${v} * (1.0 + ${tanh(code, w)}))`;
    }
    case 'silu': {
      const e = code.let(`Math.exp(0.0 - Math.abs(${v}))`, 'e');
      const s = code.let(`1.0 / (1.0 + ${e})`, 's');
      code.push(`if (${v} < 0.0) { ${s} = ${e} / (1.0 + ${e}); }`);
      return `(${v} * ${s})`;
    }
    case 'softplus': {
      const s = code.let(`Math.max(${v}, 0.0) + Math.log1p(Math.exp(0.0 - Math.abs(${v})))`, 's');
      code.push(`if (${v} > 20.0) { ${s} = ${v}; }`);
      return s;
    }
    // GPU sin/cos are approximations (SwiftShader's is off by ~2e-4): a polynomial after range reduction instead.
    case 'sin':
      return sinPoly(code, v);
    case 'cos':
      return sinPoly(code, `(${v} + 1.5707963267948966)`);
    case 'floor':
      return `Math.floor(${v})`;
    case 'ceil':
      return `Math.ceil(${v})`;
    case 'round': {
      const r = code.let(`Math.floor(${v} + 0.5)`, 'r');
      code.push(`if (${r} - ${v} == 0.5) { ${r} = 2.0 * Math.floor(${v} * 0.5 + 0.5); }`);
      return r;
    }
    case 'sign': {
      const s = code.let('0.0', 's');
      code.push(`if (${v} > 0.0) { ${s} = 1.0; } else if (${v} < 0.0) { ${s} = -1.0; }`);
      return s;
    }
    case 'not': {
      const s = code.let('1.0', 's');
      code.push(`if (${v} != 0.0) { ${s} = 0.0; }`);
      return s;
    }
  }
}

/** Emits `|base|^exp` with JS semantics for negative bases and integer exponents. */
function powCode(code: Code, a: string, b: string): string {
  const p = code.let(`Math.pow(Math.abs(${a}), ${b})`, 'p');
  code.push(`if (${a} < 0.0) { if (Math.floor(${b}) == ${b}) { if (${b} - 2.0 * Math.floor(${b} * 0.5) == 1.0) { ${p} = 0.0 - ${p}; } } }`);
  code.push(`if (${b} == 0.0) { ${p} = 1.0; }`);
  return p;
}

/** Emits a parameterised unary op; returns the result expression. */
export function unaryParamCode(code: Code, p: UnaryParamOp, v: string): string {
  switch (p.op) {
    case 'leakyRelu': {
      const s = code.let(v, 's');
      code.push(`if (${v} < 0.0) { ${s} = ${lit(p.alpha)} * ${v}; }`);
      return s;
    }
    case 'elu': {
      const s = code.let(v, 's');
      code.push(`if (${v} < 0.0) { ${s} = ${lit(p.alpha)} * (Math.exp(${v}) - 1.0); }`);
      return s;
    }
    case 'hardSigmoid':
      return `Math.max(0.0, Math.min(1.0, ${lit(p.alpha)} * ${v} + ${lit(p.beta)}))`;
    case 'hardSwish':
      return `(${v} * Math.max(0.0, Math.min(1.0, ${v} / 6.0 + 0.5)))`;
    case 'clip': {
      const s = code.let(v, 's');
      if (p.min !== Number.NEGATIVE_INFINITY) code.push(`if (${v} < ${lit(p.min)}) { ${s} = ${lit(p.min)}; }`);
      if (p.max !== Number.POSITIVE_INFINITY) code.push(`if (${v} > ${lit(p.max)}) { ${s} = ${lit(p.max)}; }`);
      return s;
    }
    case 'powScalar': {
      const e = p.exponent;
      if (e === 1) return v;
      if (e === 2) return `(${v} * ${v})`;
      if (e === 3) return `(${v} * ${v} * ${v})`;
      if (e === 0.5) return `Math.sqrt(${v})`;
      return powCode(code, v, lit(e));
    }
  }
}

/** Ops whose result is bool. */
export const BOOL_BINARY = new Set<BinaryOp>(['equal', 'less', 'lessEqual', 'greater', 'greaterEqual', 'and', 'or', 'xor']);

function cmp(code: Code, cond: string): string {
  const s = code.let('0.0', 'c');
  code.push(`if (${cond}) { ${s} = 1.0; }`);
  return s;
}

/** Emits a binary op over float values (bool operands are 0/1). */
export function binaryCode(code: Code, op: BinaryOp, a: string, b: string): string {
  switch (op) {
    case 'add':
      return `(${a} + ${b})`;
    case 'sub':
      return `(${a} - ${b})`;
    case 'mul':
      return `(${a} * ${b})`;
    case 'div':
      return `(${a} / ${b})`;
    case 'pow':
      return powCode(code, a, b);
    case 'min':
      return `Math.min(${a}, ${b})`;
    case 'max':
      return `Math.max(${a}, ${b})`;
    case 'mod': {
      // Python/ONNX fmod=0: the result takes the divisor's sign.
      const r = code.let(`${a} - ${b} * Math.floor(${a} / ${b})`, 'm');
      return r;
    }
    case 'equal':
      return cmp(code, `${a} == ${b}`);
    case 'less':
      return cmp(code, `${a} < ${b}`);
    case 'lessEqual':
      return cmp(code, `${a} <= ${b}`);
    case 'greater':
      return cmp(code, `${a} > ${b}`);
    case 'greaterEqual':
      return cmp(code, `${a} >= ${b}`);
    case 'and': {
      const s = code.let('0.0', 'c');
      code.push(`if (${a} != 0.0) { if (${b} != 0.0) { ${s} = 1.0; } }`);
      return s;
    }
    case 'or': {
      const s = code.let('0.0', 'c');
      code.push(`if (${a} != 0.0) { ${s} = 1.0; }`);
      code.push(`if (${b} != 0.0) { ${s} = 1.0; }`);
      return s;
    }
    case 'xor': {
      const s = code.let('0.0', 'c');
      code.push(`if (${a} != 0.0) { ${s} = 1.0; }`);
      code.push(`if (${b} != 0.0) { ${s} = 1.0 - ${s}; }`);
      return s;
    }
  }
}
