// The IterNorm Newton iteration as a differentiable float64 core on one group, shared by
// `iterNorm` and the INTL whitening: rows of A (r × c) are centered outside, Σ = α·A·Aᵀ + ε·I,
// Σ_N = Σ/tr(Σ), P_0 = I, P_{k+1} = 1.5·P_k − 0.5·P_k³·Σ_N, W = P_T/sqrt(tr Σ), Y = W·A.
import { eyeF64, type F64, gramBackward, gramF64, matmulF64, transposeF64 } from './internal.js';

export interface NewtonState {
  A: F64;
  r: number;
  c: number;
  alpha: number;
  eps: number;
  T: number;
  Sigma: F64;
  tr: number;
  SN: F64;
  P: F64[];
  W: F64;
  Y: F64;
}

/** P_T for a normalized covariance S_N (r × r) with T iterations; returns all iterates. */
export function newtonIterates(SN: F64, r: number, T: number): F64[] {
  const P: F64[] = [eyeF64(r)];
  for (let k = 0; k < T; k++) {
    const Pk = P[k] as F64;
    const P3 = matmulF64(matmulF64(Pk, Pk, r, r, r), Pk, r, r, r);
    const M = matmulF64(P3, SN, r, r, r);
    const next = new Float64Array(r * r);
    for (let i = 0; i < next.length; i++) next[i] = 1.5 * (Pk[i] as number) - 0.5 * (M[i] as number);
    P.push(next);
  }
  return P;
}

export function newtonForward(A: F64, r: number, c: number, alpha: number, eps: number, T: number): NewtonState {
  const Sigma = gramF64(A, r, c, alpha, eps);
  let tr = 0;
  for (let i = 0; i < r; i++) tr += Sigma[i * r + i] as number;
  const SN = Sigma.map((v) => v / tr);
  const P = newtonIterates(SN, r, T);
  const s = 1 / Math.sqrt(tr);
  const W = (P[T] as F64).map((v) => v * s);
  const Y = matmulF64(W, A, r, r, c);
  return { A, r, c, alpha, eps, T, Sigma, tr, SN, P, W, Y };
}

/** ∂L/∂A (A already centered; the caller applies the centering adjoint) given ∂L/∂Y. */
export function newtonBackward(dY: F64, st: NewtonState): F64 {
  const { A, r, c, alpha, T, Sigma, tr, SN, P, W } = st;
  const dW = matmulF64(dY, transposeF64(A, r, c), r, c, r);
  const dA = matmulF64(transposeF64(W, r, r), dY, r, r, c);
  const PT = P[T] as F64;
  const rs = 1 / Math.sqrt(tr);
  let dtr = 0;
  let dP: F64 = dW.map((v) => v * rs);
  for (let i = 0; i < dW.length; i++) dtr += -0.5 * rs * rs * rs * (dW[i] as number) * (PT[i] as number);
  const dS = new Float64Array(r * r);
  for (let k = T - 1; k >= 0; k--) {
    const Pk = P[k] as F64;
    const Q = dP;
    const P2 = matmulF64(Pk, Pk, r, r, r);
    const P3 = matmulF64(P2, Pk, r, r, r);
    const PS = matmulF64(Pk, SN, r, r, r);
    const P2S = matmulF64(P2, SN, r, r, r);
    const t1 = matmulF64(Q, transposeF64(P2S, r, r), r, r, r);
    const t2 = matmulF64(matmulF64(transposeF64(Pk, r, r), Q, r, r, r), transposeF64(PS, r, r), r, r, r);
    const t3 = matmulF64(matmulF64(transposeF64(P2, r, r), Q, r, r, r), transposeF64(SN, r, r), r, r, r);
    const dSk = matmulF64(transposeF64(P3, r, r), Q, r, r, r);
    const next = new Float64Array(r * r);
    for (let i = 0; i < next.length; i++) {
      next[i] = 1.5 * (Q[i] as number) - 0.5 * ((t1[i] as number) + (t2[i] as number) + (t3[i] as number));
      dS[i]! += -0.5 * (dSk[i] as number);
    }
    dP = next;
  }
  const dSigma = new Float64Array(r * r);
  for (let i = 0; i < dSigma.length; i++) {
    dSigma[i] = (dS[i] as number) / tr;
    dtr -= ((dS[i] as number) * (Sigma[i] as number)) / (tr * tr);
  }
  for (let i = 0; i < r; i++) dSigma[i * r + i]! += dtr;
  return gramBackward(dSigma, A, r, c, alpha, dA);
}
