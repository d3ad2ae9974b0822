// Types for scripts/readme-example.mjs, which the packages' README tests import.
import type { SpawnSyncReturns } from 'node:child_process';

export interface ReadmeExample {
  name: string;
  lang: 'ts' | 'sh';
  code: string;
  files: { to: string; from: string }[];
  missing: string[];
}
export const ROOT: string;
export const TESTDATA: string;
export function firstExample(readme: string): { lang: 'ts' | 'sh'; code: string } | undefined;
export function shellCommands(code: string): string[];
export function readmeExample(pkgDir: string): ReadmeExample | undefined;
export function placeFiles(example: ReadmeExample, cwd: string): void;
export function toModule(code: string, format: 'esm' | 'cjs'): string;
export function runExampleFromSource(pkgDir: string): SpawnSyncReturns<string>;
