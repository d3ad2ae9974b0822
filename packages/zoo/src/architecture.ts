import type { Model } from '@normkit/graph';

export type ZooSize = 'tiny' | 'small' | 'base';
export type ZooOpset = 14 | 17 | 23;

export interface BuildOptions {
  size?: ZooSize;
  /** 14: decomposed LayerNorm subgraphs; 17+: LayerNormalization nodes; 23: RMSNormalization for Llama. Default 17. */
  opset?: ZooOpset;
  /** Seed of every weight (default 0). */
  seed?: number;
  /** Batch size of the graph inputs (default 1). */
  batch?: number;
  /** Sequence length (text models) or number of frames (Whisper); default per size. */
  seqLen?: number;
  /** Image side (vision models); default per size. */
  imageSize?: number;
}

export interface ArchitectureInfo {
  name: string;
  description: string;
  /** What the exact foldability analysis should say, as a function of the size's config. */
  expected: (size: ZooSize) => { layerNorms: number; foldable: number };
  /** Why, in words. */
  why: string;
}

/** Layers, width and heads of a transformer-style config. */
export interface Cfg {
  layers: number;
  d: number;
  heads: number;
}

/** An architecture of the zoo: what it is, what the analysis should say, and how to build it. */
export interface Architecture extends ArchitectureInfo {
  /** Builds the model for fully resolved options (see `buildModel`, which fills the defaults). */
  build: (o: Required<BuildOptions>) => Model;
  /** Default sequence length (or frames) per size, for text and audio models. */
  seq?: (s: ZooSize) => number;
  /** Default image side per size, for vision models. */
  image?: (s: ZooSize) => number;
}
