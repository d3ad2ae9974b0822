// Browser bundle entry for the WebGL2 test and benchmark: exposes the tensor package, the gpu
// backend, and the graph executor and zoo (for end-to-end runs) on window.
import * as graph from '@normkit/graph';
import * as tensor from '@normkit/tensor';
import * as zoo from '@normkit/zoo';
import * as gpu from '../../src/index.js';

(globalThis as unknown as { normkit: unknown }).normkit = { tensor, gpu, graph, zoo };
