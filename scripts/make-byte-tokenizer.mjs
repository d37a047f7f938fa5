// Writes experiments/byte-tokenizer/{tokenizer.json,tokenizer_config.json}: bytes as tokens
// (ids 3…258; 0 <pad>, 1 <s>, 2 </s>), in the HF tokenizers format, equal to ByteTokenizer.
import fs from 'node:fs';
function bytesToUnicode() {
  // GPT-2's reversible byte → printable character map
  const bs = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}
const m = bytesToUnicode();
const vocab = { '<pad>': 0, '<s>': 1, '</s>': 2 };
for (let b = 0; b < 256; b++) vocab[m.get(b)] = b + 3;
const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const tok = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special(0, '<pad>'), special(1, '<s>'), special(2, '</s>')],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
  },
  decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges: [],
  },
};
const dir = new URL('../experiments/byte-tokenizer/', import.meta.url);
fs.writeFileSync(new URL('tokenizer.json', dir), JSON.stringify(tok) + '\n');
fs.writeFileSync(
  new URL('tokenizer_config.json', dir),
  JSON.stringify(
    {
      bos_token: '<s>',
      eos_token: '</s>',
      pad_token: '<pad>',
      model_max_length: 4096,
      tokenizer_class: 'PreTrainedTokenizerFast',
      clean_up_tokenization_spaces: false,
    },
    null,
    2,
  ) + '\n',
);
