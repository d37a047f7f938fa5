# Interop, half two (issue 18, deliverable 4): transformers loads the fixture model, peft loads the
# adapter plf-native trained and saved (bench/peft-interop.ts), and the logits on the same batch are
# compared with ours at the non-padding positions. Prints one JSON object.  argv: modelDir outDir
import json, sys
import torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

model_dir, out = sys.argv[1], sys.argv[2]
ours = json.load(open(f"{out}/ours.json"))
base = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager")
model = PeftModel.from_pretrained(base, f"{out}/adapter").eval()
ids = torch.tensor(ours["ids"]); mask = torch.tensor(ours["mask"])
with torch.no_grad():
    theirs = model(input_ids=ids, attention_mask=mask).logits
mine = torch.tensor(ours["logits"]).reshape(ours["shape"])
keep = mask.bool()
diff = (theirs[keep] - mine[keep]).abs().max().item()
scale = mine[keep].abs().max().item()
print(json.dumps({"max_abs": diff, "max_rel": diff / scale, "ok": diff / scale <= 1e-4}))
