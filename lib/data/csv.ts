// Streaming RFC-4180 CSV/TSV reader: quoted fields with "" escapes and embedded newlines, CRLF or
// LF line ends. Malformed input is a FormatError naming file, line and column.
import fs from 'node:fs';
import { FormatError } from '../errors.js';

export interface CsvRow {
  line: number;
  fields: string[];
}
/** 'fatal' (default): invalid UTF-8 is a FormatError naming file and line; 'replace': kept as U+FFFD. */
export type EncodingErrors = 'fatal' | 'replace';
export interface ReadOptions {
  encodingErrors?: EncodingErrors;
}
export interface CsvOptions extends ReadOptions {
  delimiter?: string;
  /** check every row has this many fields */ columns?: number;
}

/** Byte offset of the first invalid UTF-8 sequence in `b` (a sequence cut by the end counts as valid), or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!n) return i;
    for (let k = 1; k < n; k++) {
      if (i + k >= b.length) return -1;
      const x = b[i + k];
      if ((x & 0xc0) !== 0x80) return i;
      if (k === 1 && ((c === 0xe0 && x < 0xa0) || (c === 0xed && x > 0x9f) || (c === 0xf0 && x < 0x90) || (c === 0xf4 && x > 0x8f)))
        return i;
    }
    i += n;
  }
  return -1;
}

/**
 * A file's text in chunks, decoded as UTF-8: invalid bytes are a FormatError naming the file and
 * line (or U+FFFD with encodingErrors 'replace'). `lines` counts the line ends already yielded.
 */
export async function* readUtf8(file: string, opts: ReadOptions = {}): AsyncGenerator<string> {
  const fatal = (opts.encodingErrors ?? 'fatal') === 'fatal';
  const dec = new TextDecoder('utf-8', { fatal, ignoreBOM: true });
  let line = 1;
  let stream: fs.ReadStream;
  try {
    stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  } catch (e) {
    throw new FormatError(`${file}: cannot read (${(e as Error).message})`);
  }
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let text: string;
      try {
        text = dec.decode(chunk, { stream: true });
      } catch {
        const at = Math.max(0, firstInvalidUtf8(chunk));
        for (let i = 0; i < at; i++) if (chunk[i] === 10) line++;
        throw new FormatError(
          `${file}:${line}: invalid UTF-8 (byte 0x${chunk[at]?.toString(16) ?? '??'}); fix the file or pass --encoding-errors replace`,
        );
      }
      for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
      yield text;
    }
    let tail: string;
    try {
      tail = dec.decode();
    } catch {
      throw new FormatError(
        `${file}:${line}: invalid UTF-8 (the file ends inside a character); fix the file or pass --encoding-errors replace`,
      );
    }
    if (tail) yield tail;
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Rows of a delimited file (the header is the first row), with the line each row starts on. */
export async function* readDelimited(file: string, opts: CsvOptions = {}): AsyncGenerator<CsvRow> {
  const delim = (opts.delimiter ?? (file.endsWith('.tsv') ? '\t' : ',')).charCodeAt(0);
  const QUOTE = 34,
    LF = 10,
    CR = 13;
  let fields: string[] = [];
  let field = '';
  let inQuotes = false,
    afterQuote = false;
  let line = 1,
    col = 1,
    rowLine = 1,
    quoteLine = 1,
    quoteCol = 1;
  const fail = (msg: string, l = line, c = col): never => {
    throw new FormatError(`${file}:${l}:${c}: ${msg}`);
  };
  const endRow = (): CsvRow | null => {
    fields.push(field);
    const row = { line: rowLine, fields };
    fields = [];
    field = '';
    afterQuote = false;
    if (row.fields.length === 1 && row.fields[0] === '') return null; // blank line
    if (opts.columns !== undefined && row.fields.length !== opts.columns)
      fail(`expected ${opts.columns} columns, found ${row.fields.length}`, row.line, 1);
    return row;
  };
  let pendingCR = false;
  for await (const chunk of readUtf8(file, opts)) {
    const out: CsvRow[] = [];
    let start = 0; // start of the unconsumed plain run inside the chunk
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (pendingCR) {
        pendingCR = false;
        if (c === LF) {
          start = i + 1;
          continue;
        }
      }
      if (inQuotes) {
        if (c === QUOTE) {
          if (i + 1 < chunk.length) {
            if (chunk.charCodeAt(i + 1) === QUOTE) {
              field += chunk.slice(start, i + 1);
              i++;
              start = i + 1;
              col += 2;
              continue;
            }
            field += chunk.slice(start, i);
            inQuotes = false;
            afterQuote = true;
            start = i + 1;
            col++;
            continue;
          }
          // a quote at the chunk end: decide with the next chunk
          field += chunk.slice(start, i);
          start = i + 1;
          inQuotes = false;
          afterQuote = true;
          col++;
          continue;
        }
        if (c === LF) {
          line++;
          col = 1;
        } else col++;
        continue;
      }
      if (c === delim) {
        field += chunk.slice(start, i);
        fields.push(field);
        field = '';
        afterQuote = false;
        start = i + 1;
        col++;
        continue;
      }
      if (c === LF || c === CR) {
        field += chunk.slice(start, i);
        const r = endRow();
        if (r) out.push(r);
        if (c === CR) pendingCR = true;
        line++;
        col = 1;
        rowLine = line;
        start = i + 1;
        continue;
      }
      if (c === QUOTE) {
        if (afterQuote) {
          // "" split across chunks: an escaped quote inside the quoted field
          field += '"';
          inQuotes = true;
          afterQuote = false;
          start = i + 1;
          col++;
          continue;
        }
        if (field.length || i > start) fail('a quote inside an unquoted field (quote the whole field and double inner quotes)');
        inQuotes = true;
        quoteLine = line;
        quoteCol = col;
        start = i + 1;
        col++;
        continue;
      }
      if (afterQuote) fail('text after the closing quote of a quoted field');
      col++;
    }
    if (inQuotes || !afterQuote) field += chunk.slice(start);
    for (const r of out) yield r;
  }
  if (inQuotes) fail('unbalanced quotes: this quoted field never closes', quoteLine, quoteCol);
  if (field.length || fields.length) {
    const r = endRow();
    if (r) yield r;
  }
}

/** Rows as objects keyed by the header; `required` columns must exist. */
export async function* readRecords(
  file: string,
  required: string[],
  opts: CsvOptions = {},
): AsyncGenerator<{ line: number; get: (c: string) => string }> {
  let index: Map<string, number> | null = null;
  for await (const row of readDelimited(file, { ...opts, columns: undefined })) {
    if (!index) {
      index = new Map(row.fields.map((f, i) => [f.trim().replace(/^\uFEFF/, ''), i]));
      const missing = required.filter((c) => !index!.has(c));
      if (missing.length)
        throw new FormatError(`${file}:${row.line}: missing column(s) ${missing.join(', ')} (found: ${row.fields.join(', ')})`);
      opts = { ...opts, columns: row.fields.length };
      continue;
    }
    if (row.fields.length !== opts.columns)
      throw new FormatError(`${file}:${row.line}:1: expected ${opts.columns} columns, found ${row.fields.length}`);
    const ix = index;
    yield { line: row.line, get: (c: string) => row.fields[ix.get(c)!] };
  }
}

/** JSON Lines: one object per line, with its line number. */
export async function* readJsonl(file: string, opts: ReadOptions = {}): AsyncGenerator<{ line: number; value: Record<string, unknown> }> {
  let line = 0,
    rest = '';
  const lines = async function* () {
    for await (const chunk of readUtf8(file, opts)) {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      yield* parts;
    }
    if (rest) yield rest;
  };
  for await (const raw of lines()) {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    line++;
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new FormatError(`${file}:${line}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new FormatError(`${file}:${line}: expected a JSON object`);
    yield { line, value: value as Record<string, unknown> };
  }
}
