// Browser bundle entry for the WebGL2 test and benchmark: exposes the tensor package, its conformance
// suite and the gpu package's suite options, the gpu backend, and the graph executor and zoo (for
// end-to-end runs) on window.
import * as graph from '@normkit/graph';
import * as tensor from '@normkit/tensor';
import * as testing from '@normkit/tensor/testing';
import * as zoo from '@normkit/zoo';
import * as gpu from '../../src/index.js';
import { gpuConformanceOptions } from '../conformance.js';

(globalThis as unknown as { normkit: unknown }).normkit = { tensor, testing, gpu, gpuConformanceOptions, graph, zoo };
