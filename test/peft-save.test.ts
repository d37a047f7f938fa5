// A saved adapter carries what peft writes and reads: the safetensors header's {"format": "pt"} and
// base_model_name_or_path naming the model folder the adapter was trained on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, openSafetensors } from '../lib/index.js';
import { sharedPath, skipMessage } from './helpers.js';

const model = sharedPath('fixtures/hf/llama/model');

test(
  'saveAdapter writes format "pt" metadata and the base model folder',
  { skip: model ? false : skipMessage('fixtures/hf/llama/model') },
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-peft-save-'));
    using m = loadModel(model!, {});
    m.addLora({ r: 2, alpha: 4, dropout: 0 });
    m.saveAdapter(dir);
    assert.equal(openSafetensors(path.join(dir, 'adapter_model.safetensors')).metadata.format, 'pt');
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(cfg.base_model_name_or_path, path.resolve(model!));
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
