import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared test data folder (outside the repo). */
export const TESTDATA = fileURLToPath(new URL('../../../../shared/testdata', import.meta.url));

/** Every `.onnx` file under `dir`, sorted. */
export function findModels(dir: string = TESTDATA): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else if (e.endsWith('.onnx')) out.push(p);
    }
  };
  walk(dir);
  return out;
}
