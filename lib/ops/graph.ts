// A decode step recorded once and replayed per token. On CUDA a CUDA graph of plf's stream
// (native/cuda/graph.cu): one launch from the host per token instead of ~15 op calls per layer.
// While `step` is recorded its kernels are queued into the graph, not run, and any host↔device
// copy throws; so the step reads everything that changes per token from device tensors the caller
// writes before each replay (Tensor.write), and the outputs it returns are refilled in place by
// every replay. On the CPU the step simply runs again on replay (same contract, nothing recorded),
// which is how the CPU tests check that a step meets it.
import { addon, type GraphHandle } from '../native/addon.js';
import { rethrowNative } from '../errors.js';
import type { Device, Tensor } from '../tensor.js';

export class StepGraph implements Disposable {
  /** steps recorded in this process so far (tests check that a kept step is reused, not recorded again) */
  static recordings = 0;

  private constructor(
    readonly device: Device,
    private readonly step: () => Tensor[],
    /** what step returned at recording: each replay refills these */
    readonly outputs: Tensor[],
    private handle: GraphHandle | null,
  ) {}

  /**
   * Records `step` (CUDA) or runs it once (CPU). On CUDA the outputs hold nothing until the first
   * replay(); a step that fails, or cannot be recorded, throws and leaves nothing recorded.
   */
  static record(device: Device, step: () => Tensor[]): StepGraph {
    StepGraph.recordings++;
    if (device === 'cpu') return new StepGraph(device, step, step(), null);
    try {
      addon.graph_begin();
    } catch (e) {
      rethrowNative(e);
    }
    let outputs: Tensor[];
    try {
      outputs = step();
    } catch (e) {
      addon.graph_abort();
      throw e;
    }
    try {
      return new StepGraph(device, step, outputs, addon.graph_end());
    } catch (e) {
      outputs.forEach((t) => t.dispose());
      rethrowNative(e);
    }
  }

  /** kernels and copies recorded (0 on the CPU) */
  get nodes(): number {
    return this.handle ? addon.graph_nodes(this.handle) : 0;
  }

  /** Runs the step again on the inputs as they are now; on CUDA queued, like any op. */
  replay(): void {
    if (this.handle) {
      try {
        addon.graph_replay(this.handle);
      } catch (e) {
        rethrowNative(e);
      }
      return;
    }
    const fresh = this.step();
    fresh.forEach((t, i) => {
      this.outputs[i].copyFrom(t);
      t.dispose();
    });
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Frees the graph (after the device finished its replays), then the outputs. */
  dispose(): void {
    if (this.handle) addon.graph_destroy(this.handle);
    this.handle = null;
    this.outputs.forEach((t) => t.dispose());
  }
}
