import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import onnx from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../src/index.js';
import { canon, findModels, TESTDATA } from './helpers.js';
import { inputsFor, sameOutputs, session } from './ort.js';

const models = findModels();

/** onnx-proto (protobufjs, ONNX 1.10 schema) as an independent reader: both files must say the same thing. */
function protoView(bytes: Uint8Array): unknown {
  const m = onnx.onnx.ModelProto.decode(bytes);
  return onnx.onnx.ModelProto.toObject(m, { longs: String, bytes: String, defaults: true, arrays: true, enums: Number });
}

describe('round trip over every model in shared/testdata', () => {
  it(`finds the models (${models.length})`, () => {
    expect(models.length).toBeGreaterThan(400);
  });

  it('read → write → read gives the same IR, and writing again gives the same bytes', () => {
    for (const f of models) {
      const bytes = readFileSync(f);
      const m1 = decodeModel(bytes, { fileName: f, validate: false });
      const out = encodeModel(m1);
      const m2 = decodeModel(out, { fileName: `${f} (rewritten)`, validate: false });
      expect(canon(m2), relative(TESTDATA, f)).toEqual(canon(m1));
      expect(Buffer.from(encodeModel(m2)).equals(Buffer.from(out)), relative(TESTDATA, f)).toBe(true);
    }
  });

  it('onnx-proto reads the written file as the same ModelProto as the original', () => {
    for (const f of models) {
      const bytes = readFileSync(f);
      const out = encodeModel(decodeModel(bytes, { validate: false }));
      expect(protoView(out), relative(TESTDATA, f)).toEqual(protoView(bytes));
    }
  });

  it('a model written unchanged gives bit-identical outputs in onnxruntime-node', async () => {
    let compared = 0;
    let identicalBytes = 0;
    const refused: string[] = [];
    for (const f of models) {
      const bytes = readFileSync(f);
      const written = encodeModel(decodeModel(bytes, { validate: false }));
      if (Buffer.from(written).equals(bytes)) {
        identicalBytes++; // the same file: the same outputs, no need to ask onnxruntime
        continue;
      }
      let ref: Awaited<ReturnType<Awaited<ReturnType<typeof session>>['run']>>;
      let feeds: ReturnType<typeof inputsFor>;
      try {
        const s0 = await session(bytes);
        feeds = inputsFor(f, s0);
        ref = await s0.run(feeds);
        await s0.release();
      } catch (e) {
        refused.push(`${relative(TESTDATA, f)}: ${(e as Error).message.split('\n')[0]?.slice(0, 120)}`);
        continue;
      }
      const s1 = await session(written);
      const got = await s1.run(feeds);
      await s1.release();
      expect(sameOutputs(ref, got), relative(TESTDATA, f)).toBe('');
      compared++;
    }
    console.log(
      `${identicalBytes} models written back byte for byte; onnxruntime-node: ${compared} more give identical outputs after the round trip; ${refused.length} not runnable by onnxruntime itself:\n  ${refused.join('\n  ')}`,
    );
    expect(identicalBytes + compared).toBeGreaterThan(300);
    expect(compared).toBeGreaterThan(150);
  });
});
