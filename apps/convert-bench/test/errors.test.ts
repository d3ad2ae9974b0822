import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '@normkit/graph';
import { saveModel } from '@normkit/onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, json, spawnCli, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(tmp.cleanup);

// Bad input: exit 2 and exactly one line on stderr naming the file and the problem, no stack trace.
describe('bad input', () => {
  it('a missing file', async () => {
    const r = await cli('inspect', join(tmp.dir, 'nope.onnx'));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`normkit: ${join(tmp.dir, 'nope.onnx')}: no such file\n`);
  });

  it('a file that is not ONNX', async () => {
    const f = join(tmp.dir, 'notes.onnx');
    writeFileSync(f, 'this is a text file, not a protobuf\n');
    const r = await cli('analyze', f);
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^normkit: ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    expect(lines[0]).toMatch(/not an ONNX model|malformed ONNX/);
  });

  it('an empty file and a directory', async () => {
    const f = join(tmp.dir, 'empty.onnx');
    writeFileSync(f, '');
    expect((await cli('inspect', f)).stderr).toBe(`normkit: ${f}: not an ONNX model (the file is empty)\n`);
    const d = await cli('inspect', tmp.dir);
    expect(d.code).toBe(2);
    expect(d.stderr).toBe(`normkit: ${tmp.dir}: is a directory, expected an .onnx file\n`);
  });

  it('an op the executor does not support: one line naming the file, the op and the node', async () => {
    const b = new GraphBuilder('g');
    b.output(b.op('Frobnicate', [b.input('x', 'float32', [2, 4])], {}, { name: 'my_frob' } as never));
    const f = join(tmp.dir, 'frob.onnx');
    await saveModel(b.model(17), f);
    for (const args of [
      ['run', f],
      ['bench', f, '--engine', 'normkit-cpu'],
    ]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('normkit:'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(new RegExp(`^normkit: ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: op Frobnicate .*node "my_frob"`));
    }
  });

  it('with --json: one error document on stdout, the line on stderr', async () => {
    const r = await cli('inspect', join(tmp.dir, 'nope.onnx'), '--json');
    expect(r.code).toBe(2);
    expect(json(r)).toEqual({ error: { code: 'FILE_NOT_FOUND', message: `${join(tmp.dir, 'nope.onnx')}: no such file`, exitCode: 2 } });
  });

  it('an unknown engine, a bad number, an unknown command, a missing argument: exit 2', async () => {
    expect((await cli('bench', 'x.onnx', '--engine', 'tpu')).stderr).toMatch(
      /unknown engine "tpu" \(choose from normkit-cpu, normkit-gpu, onnxruntime\)/,
    );
    expect((await cli('bench', 'zoo:gpt2', '--runs', 'many')).stderr).toMatch(/--runs must be a positive integer, got "many"/);
    const u = await cli('frobnicate');
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/unknown command "frobnicate"/);
    const x = await cli('inspect', 'a.onnx', 'b.onnx');
    expect(x.code).toBe(2);
    expect(x.stderr).toMatch(/^normkit: too many arguments for 'inspect'/);
    const m = await cli('inspect');
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/missing required argument 'model'/);
    expect((await cli('convert', 'x.onnx')).code).toBe(2); // -o is required
    expect((await cli('zoo', 'resnet-9000', '-o', join(tmp.dir, 'x.onnx'))).stderr).toMatch(
      /unknown architecture "resnet-9000" \(choose from gpt2, /,
    );
  });

  it('--help and --version exit 0', async () => {
    const h = await cli('--help');
    expect(h.code).toBe(0);
    for (const c of ['inspect', 'analyze', 'convert', 'verify', 'bench', 'run', 'test-onnx', 'zoo', 'theory', 'report'])
      expect(h.stdout).toContain(c);
    expect((await cli('convert', '--help')).stdout).toMatch(/--rms-format <format>.*\n?.*onnx23/);
    expect((await cli('--version')).code).toBe(0);
  });
});

describe('as a process', () => {
  it('no stack trace unless --verbose; exit status reaches the shell', () => {
    const f = join(tmp.dir, 'garbage.onnx');
    writeFileSync(f, Buffer.from([0xff, 0xff, 0xff, 0x00, 0x12]));
    const r = spawnCli(['inspect', f]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const v = spawnCli(['inspect', f, '--verbose']);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/\n\s+at /);
  });
});
