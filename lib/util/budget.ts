// A time budget for synchronous work that a file controls (a tokenizer's regexes, a chat
// template): V8 interrupts it when the budget runs out — a backtracking regex included — and the
// caller gets a typed error instead of a hung process.
import vm from 'node:vm';
import { PlfError } from '../errors.js';

/** Work from a file exceeded its time or size budget. */
export class BudgetError extends PlfError {}

const ctx = vm.createContext({ job: null as null | (() => unknown) });
const script = new vm.Script('job()');

/** Runs `fn` with at most `ms` of wall time; past that a BudgetError naming `what` is thrown. */
export function withinBudget<T>(what: string, ms: number, fn: () => T): T {
  const prev = ctx.job;
  ctx.job = fn;
  try {
    return script.runInContext(ctx, { timeout: ms }) as T;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT')
      throw new BudgetError(`${what}: took longer than its ${ms} ms budget (a pathological regex or template?)`, 'PLF_BUDGET');
    throw e;
  } finally {
    ctx.job = prev;
  }
}
