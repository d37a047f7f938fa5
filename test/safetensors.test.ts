// safetensors reader: header validation and a mutation fuzz test (corrupt headers, bytes and
// truncations must be FormatErrors naming the file — never a crash, hang or other error).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor, writeSafetensors, openSafetensors, readTensor, FormatError } from '../lib/index.js';
import { parseHeader } from '../lib/io/safetensors.js';
import { rand, randInt, randnArray, throwsWith } from './helpers.js';

function sample(dir: string): string {
  const file = path.join(dir, 'sample.safetensors');
  writeSafetensors(
    file,
    {
      'a.weight': Tensor.from(randnArray(12), [3, 4]),
      'b.bias': Tensor.from(new Uint16Array([1, 2, 3]), [3], { dtype: 'bf16' }),
      'c.ids': Tensor.from(new BigInt64Array([5n, -1n]), [2]),
      'd.bytes': Tensor.from(new Uint8Array([9, 8, 7, 6, 5]), [5]),
      'e.empty': Tensor.zeros([0, 4]),
    },
    { format: 'pt' },
  );
  return file;
}

test('written files read back exactly, with metadata', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-st-'));
  try {
    const f = openSafetensors(sample(dir));
    assert.deepEqual([...f.tensors.keys()].sort(), ['a.weight', 'b.bias', 'c.ids', 'd.bytes', 'e.empty']);
    assert.equal(f.metadata.format, 'pt');
    assert.deepEqual(readTensor(f, 'c.ids').toArray(), new BigInt64Array([5n, -1n]));
    assert.equal(readTensor(f, 'b.bias').dtype, 'bf16');
    assert.deepEqual(readTensor(f, 'e.empty').shape, [0, 4]);
    assert.equal((8 + Number(fs.readFileSync(f.path).readBigUInt64LE(0))) % 8, 0, 'data starts 8-byte aligned');
    throwsWith(() => readTensor(f, 'nope'), FormatError, /no tensor named 'nope'/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('header validation names the file and the tensor', () => {
  const hdr = (obj: unknown, dataLen = 64) => {
    const j = Buffer.from(JSON.stringify(obj));
    const b = Buffer.alloc(8 + j.length + dataLen);
    b.writeBigUInt64LE(BigInt(j.length));
    j.copy(b, 8);
    return () => parseHeader('x.safetensors', b, b.length);
  };
  throwsWith(hdr({ t: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }), FormatError, /x\.safetensors/, /'t'/, /unsupported dtype/);
  throwsWith(hdr({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }), FormatError, /'t'/, /12 bytes/);
  throwsWith(hdr({ t: { dtype: 'F32', shape: [2], data_offsets: [60, 68] } }), FormatError, /truncated/);
  throwsWith(hdr({ t: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }), FormatError, /shape/);
  throwsWith(hdr({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }), FormatError, /data_offsets/);
  throwsWith(
    hdr({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }),
    FormatError,
    /overlap/,
  );
  throwsWith(hdr([1, 2]), FormatError, /JSON object/);
  const big = Buffer.alloc(16);
  big.writeBigUInt64LE(1n << 40n);
  throwsWith(() => parseHeader('y.safetensors', big, 16), FormatError, /y\.safetensors/, /header length/);
  throwsWith(() => parseHeader('z.safetensors', Buffer.alloc(4), 4), FormatError, /too short/);
});

test('fuzz: 2,400 mutated files are read or rejected with a FormatError, never anything else', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-fuzz-'));
  try {
    const good = fs.readFileSync(sample(dir));
    const hlen = Number(good.readBigUInt64LE(0));
    const header = good.subarray(8, 8 + hlen).toString('utf8');
    const file = path.join(dir, 'case.safetensors');
    let rejected = 0,
      accepted = 0;
    for (let i = 0; i < 2400; i++) {
      let buf: Buffer;
      const kind = i % 6;
      if (kind === 0) {
        // flip random bytes anywhere
        buf = Buffer.from(good);
        for (let k = randInt(1, 6); k > 0; k--) buf[randInt(0, buf.length)] ^= 1 << randInt(0, 8);
      } else if (kind === 1) {
        // truncate
        buf = good.subarray(0, randInt(0, good.length));
      } else if (kind === 2) {
        // wrong header length
        buf = Buffer.from(good);
        buf.writeBigUInt64LE(BigInt(Math.floor(rand() * (rand() < 0.5 ? 2 * hlen : 2 ** 52))));
      } else {
        // mutate the JSON text: digits, quotes, brackets, dtype names
        let h = header;
        for (let k = randInt(1, 4); k > 0; k--) {
          const at = randInt(0, h.length);
          const pick = ['0', '9', '-', '"', ']', '{', 'F', 'U8', 'I64', '1e9', ',', ' '][randInt(0, 12)];
          h =
            kind === 3
              ? h.slice(0, at) + pick + h.slice(at + 1)
              : kind === 4
                ? h.slice(0, at) + pick + h.slice(at)
                : h.slice(0, at) + h.slice(at + 1);
        }
        const j = Buffer.from(h);
        buf = Buffer.concat([Buffer.alloc(8), j, good.subarray(8 + hlen)]);
        buf.writeBigUInt64LE(BigInt(j.length));
      }
      fs.writeFileSync(file, buf);
      try {
        const f = openSafetensors(file);
        for (const name of f.tensors.keys()) {
          const t = readTensor(f, name);
          const e = f.tensors.get(name)!;
          assert.equal(t.nbytes, e.end - e.begin);
          t.dispose();
        }
        accepted++;
      } catch (e) {
        if (!(e instanceof FormatError))
          throw new Error(`case ${i} (kind ${kind}): ${(e as Error).constructor.name}: ${(e as Error).message}`);
        assert.match(e.message, /case\.safetensors/);
        rejected++;
      }
    }
    assert.equal(accepted + rejected, 2400);
    assert.ok(rejected > 1000 && accepted > 20, `rejected ${rejected}, accepted ${accepted}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
