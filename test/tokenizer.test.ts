// Tokenizers against HF `tokenizers` reference encodings (4 tokenizers × 93 texts), decode round
// trips, prompt truncation inside the user's text, and chat templates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTokenizer, encodeWithin, renderPrompt, TEMPLATES, ConfigError } from '../lib/index.js';
import { buildExamples } from '../lib/examples/build.js';
import { sharedPath, skipMessage, throwsWith } from './helpers.js';

const TOK = 'fixtures/tokenizers';
const root = sharedPath(TOK);
const skip = root ? false : skipMessage(TOK);

test('ids equal HF tokenizers for every text, with and without special tokens; decode round trips', { skip }, () => {
  const ref = JSON.parse(fs.readFileSync(path.join(root!, 'reference-encodings.json'), 'utf8')) as {
    texts: string[];
    encodings: Record<string, { with_special: number[][]; no_special: number[][]; decode_roundtrip: string[] }>;
  };
  const present = Object.keys(ref.encodings).filter((n) => fs.existsSync(path.join(root!, n, 'tokenizer.json')));
  assert.equal(present.length, 4, 'the four shipped tokenizers');
  assert.equal(ref.texts.length, 93);
  for (const name of present) {
    const tok = loadTokenizer(path.join(root!, name)),
      e = ref.encodings[name];
    ref.texts.forEach((t, i) => {
      assert.deepEqual(tok.encode(t), e.with_special[i], `${name} #${i} with special tokens`);
      assert.deepEqual(tok.encode(t, { addSpecialTokens: false }), e.no_special[i], `${name} #${i} without`);
      assert.equal(tok.decode(e.no_special[i]), e.decode_roundtrip[i], `${name} #${i} decode`);
    });
  }
});

test('long inputs are cut inside the user text only; the instruction, labels and Response survive', { skip }, () => {
  const tok = loadTokenizer(path.join(root!, 'mistral-7b-v0.1'));
  const spec = TEMPLATES.goemotions;
  const render = (text: string) => renderPrompt(spec, 'LM-P', { text, user: '42' });
  const short = encodeWithin(tok, render, 'That game hurt.', 512);
  assert.equal(short.truncated, false);
  const long = 'word '.repeat(2000);
  const r = encodeWithin(tok, render, long, 300, { reserve: 10 });
  assert.equal(r.truncated, true);
  assert.ok(r.ids.length <= 290 && r.ids.length > 250, `${r.ids.length} tokens`);
  const text = tok.decode(r.ids);
  assert.match(text, /^Categorize the following text for the specified user/);
  assert.match(text, /### Emotions:\n- admiration[\s\S]*- surprise\n\n### Response:$/);
  assert.ok(text.includes('### Text:\nword word'));
  throwsWith(() => encodeWithin(tok, render, long, 50), ConfigError, /without its text needs/);
});

test('chat templates render through @huggingface/jinja', { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-chat-'));
  try {
    const src = path.join(root!, 'mistral-7b-v0.1');
    fs.copyFileSync(path.join(src, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const cfg = JSON.parse(fs.readFileSync(path.join(src, 'tokenizer_config.json'), 'utf8'));
    // Mistral-Instruct's template
    cfg.chat_template =
      "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(cfg));
    const tok = loadTokenizer(dir);
    assert.equal(
      tok.applyChatTemplate([
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Yo' },
      ]),
      '<s>[INST] Hi [/INST]Yo</s>',
    );
    assert.equal(tok.eosId, 2);
    assert.ok(tok.hasChatTemplate && !loadTokenizer(src).hasChatTemplate);
    // Q prompts wrapped as one user turn: the template's BOS only (no second one), text cut inside
    const row = { item: 'i1', annotator: '7', text: 'word '.repeat(400), labels: ['joy'], examples: [] };
    const chat = (p: string) => tok.applyChatTemplate([{ role: 'user', content: p }]);
    const { examples, truncated } = buildExamples([row], 'Q-0S', TEMPLATES.goemotions, tok, { maxLength: 300, withTarget: false, chat });
    const ids = examples[0].ids;
    assert.equal(truncated, 1);
    assert.ok(ids.length <= 300 && ids.length > 280, `${ids.length} tokens`);
    assert.deepEqual([ids[0], ids.filter((i) => i === tok.bosId).length], [tok.bosId, 1]);
    assert.match(tok.decode(ids), /^\[INST\] Categorize the following text[\s\S]*### Response: \[\/INST\]$/);
    throwsWith(() => loadTokenizer(src).applyChatTemplate([{ role: 'user', content: 'x' }]), ConfigError, /no chat_template/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
