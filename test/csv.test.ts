// CSV/TSV/JSONL readers: RFC-4180 quoting, embedded newlines, CRLF, and errors with file:line:column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readDelimited, readRecords, readJsonl, FormatError } from '../lib/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-csv-'));
const write = (name: string, s: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, s);
  return p;
};
const all = async <T>(g: AsyncGenerator<T>) => {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
};
async function rejects(p: Promise<unknown>, ...res: RegExp[]) {
  await assert.rejects(p, (e: Error) => e instanceof FormatError && res.every((r) => r.test(e.message)));
}

test('quoted fields, doubled quotes, embedded newlines and CRLF', async () => {
  const f = write('a.csv', 'a,b,c\r\n1,"x, ""y""",3\r\n"multi\nline",,"end"\n\n4,5,6');
  const rows = await all(readDelimited(f));
  assert.deepEqual(
    rows.map((r) => r.fields),
    [
      ['a', 'b', 'c'],
      ['1', 'x, "y"', '3'],
      ['multi\nline', '', 'end'],
      ['4', '5', '6'],
    ],
  );
  assert.deepEqual(
    rows.map((r) => r.line),
    [1, 2, 3, 6],
  );
  const t = write('a.tsv', 'x\ty\nhello\t"q\tq"\n');
  assert.deepEqual(
    (await all(readDelimited(t))).map((r) => r.fields),
    [
      ['x', 'y'],
      ['hello', 'q\tq'],
    ],
  );
});

test('chunk boundaries do not change the result (a 3 MB file of tricky rows)', async () => {
  const rows: string[] = ['id,text'];
  for (let i = 0; i < 40000; i++) rows.push(`${i},"row ${i} with ""quotes"", commas\nand a newline"`);
  const f = write('big.csv', rows.join('\n'));
  const got = await all(readRecords(f, ['id', 'text']));
  assert.equal(got.length, 40000);
  assert.equal(got[31337].get('text'), 'row 31337 with "quotes", commas\nand a newline');
  assert.equal(got[31337].line, 2 + 31337 * 2);
});

test('malformed input names file, line and column', async () => {
  await rejects(all(readDelimited(write('u.csv', 'a,b\n1,"open\n2,3\n'))), /u\.csv:2:3/, /unbalanced quotes/);
  await rejects(all(readDelimited(write('q.csv', 'a,b\n1,x"y\n'))), /q\.csv:2:/, /quote inside an unquoted field/);
  await rejects(all(readDelimited(write('t.csv', 'a,b\n"x"y,2\n'))), /t\.csv:2:/, /after the closing quote/);
  await rejects(all(readRecords(write('n.csv', 'a,b\n1,2,3\n'), ['a'])), /n\.csv:2:1/, /expected 2 columns, found 3/);
  await rejects(all(readRecords(write('m.csv', 'a,b\n1,2\n'), ['a', 'text'])), /m\.csv:1/, /missing column\(s\) text/);
  await rejects(all(readJsonl(write('j.jsonl', '{"a":1}\n{oops}\n'))), /j\.jsonl:2/, /not valid JSON/);
});
