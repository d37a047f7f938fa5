// The paper's prompts: all 7 settings × 2 datasets byte-identical to ../shared/prompts, LM targets,
// and custom datasets from a spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { renderPrompt, renderTarget, customTemplate, TEMPLATES, SETTINGS, ConfigError } from '../lib/index.js';
import { sharedPath, skipMessage, throwsWith } from './helpers.js';

for (const ds of ['goemotions', 'unhealthy'] as const) {
  test(`${ds}: the 7 settings and the LM target are byte-identical to the golden renders`, (t) => {
    const dir = sharedPath(`prompts/${ds}`);
    if (!dir) return t.skip(skipMessage(`prompts/${ds}`));
    const ex = JSON.parse(fs.readFileSync(path.join(dir, 'example.json'), 'utf8'));
    for (const s of SETTINGS) assert.equal(renderPrompt(TEMPLATES[ds], s, ex), fs.readFileSync(path.join(dir, `${s}.txt`), 'utf8'), s);
    assert.equal(renderTarget(TEMPLATES[ds], [...ex.labels].reverse()), fs.readFileSync(path.join(dir, 'target.txt'), 'utf8'));
  });
}

test('custom templates keep the structure; missing inputs are clear errors', () => {
  const spec = customTemplate(['offensive', 'not offensive'], { noun: 'rating', section: 'Ratings' });
  const p = renderPrompt(spec, 'LM-P', { text: 'hi', user: 'u9' });
  assert.match(
    p,
    /^Categorize the following text for the specified user by selecting the most appropriate rating from the provided list\./,
  );
  assert.match(
    p,
    /Please compose your response as a list of chosen ratings, separated by commas\.\n\n### User ID:\nu9\n\n### Text:\nhi\n\n### Ratings:\n- offensive\n- not offensive\n\n### Response:$/,
  );
  throwsWith(() => renderPrompt(spec, 'CLS-P', { text: 'x' }), ConfigError, /annotator id/);
  throwsWith(() => renderPrompt(spec, 'Q-2S', { text: 'x', examples: [{ text: 'a', labels: [] }] }), ConfigError, /2 example/);
  throwsWith(() => renderTarget(spec, ['nope']), ConfigError, /unknown label 'nope'/);
});
