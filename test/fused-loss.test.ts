// The LM head fused with cross-entropy in chunks (DecoderModel.headLoss, forward({ lossOnly: true })):
// the same loss and every LoRA gradient as the unfused head on each decoder family's fixture adapter
// (transformers + peft's gradients are in the fixture), with chunks that split rows and chunks that
// hold only ignored targets — and less memory held, since no [tokens, vocab] logits are kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadModel, memory, resetPeakMemory, openSafetensors, readTensor, type DecoderModel } from '../lib/index.js';
import { relDiff, sharedPath, skipMessage } from './helpers.js';

for (const arch of ['llama', 'phi', 'gpt_neox'] as const) {
  const root = sharedPath(`fixtures/hf/${arch}`);
  test(
    `${arch}: chunked LM head + cross-entropy equals the unfused head (loss, every gradient, scaled backward)`,
    { skip: root ? false : skipMessage(`fixtures/hf/${arch}`) },
    () => {
      const dir = (...p: string[]) => path.join(root!, ...p);
      const g = openSafetensors(dir('lora_lm', 'grads.safetensors'));
      const get = (k: string) => readTensor(g, k);
      const batch = { inputIds: get('input.input_ids'), attentionMask: get('input.attention_mask'), labels: get('input.labels') };
      const run = (fused: boolean, chunk: number) => {
        const m = loadModel(dir('model'), {}) as DecoderModel;
        m.loadAdapter(dir('lora_lm'));
        m.lossChunkRows = chunk;
        m.zeroGrad();
        resetPeakMemory();
        const before = memory().cpu.live;
        const { loss } = m.forward(batch, { train: true, lossOnly: fused });
        m.backward(0.5);
        const peak = memory().cpu.peak - before;
        const grads = m.trainableParameters().map((p) => ({ name: p.name, g: p.grad.toFloat32() }));
        m.dispose();
        return { loss: loss!, grads, peak };
      };
      const ref = run(false, 1024);
      // the fixture's loss (transformers): the unfused path is already checked against it in models.test.ts
      for (const chunk of [1024, 5, 1]) {
        const got = run(true, chunk);
        assert.ok(Math.abs(got.loss - ref.loss) <= 1e-12 * Math.abs(ref.loss), `chunk ${chunk}: loss ${got.loss} vs ${ref.loss}`);
        for (let i = 0; i < ref.grads.length; i++) {
          const d = relDiff(got.grads[i].g, ref.grads[i].g);
          assert.ok(d < 1e-6, `chunk ${chunk}: ${ref.grads[i].name} ${d}`);
        }
        if (chunk === 5) assert.ok(got.peak < ref.peak, `chunked peak ${got.peak} B should be below the unfused ${ref.peak} B`);
      }
    },
  );
}
