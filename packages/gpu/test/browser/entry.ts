// Browser bundle entry for the WebGL2 test: exposes the tensor package and the gpu backend on window.
import * as tensor from '@normkit/tensor';
import * as gpu from '../../src/index.js';

(globalThis as unknown as { normkit: unknown }).normkit = { tensor, gpu };
