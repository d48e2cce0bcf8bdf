import type { ActiveModel, SpamModel } from '../classifier/types.js';
import { type Metrics, setActiveModel } from '../observability/metrics.js';

/** Holds the model in force; a swap is one assignment, so a scan in flight finishes on the model it began with. */
export function createActiveModel(initial: SpamModel, metrics: Metrics): ActiveModel {
  let model = initial;
  const listeners = new Set<(m: SpamModel) => void>();
  setActiveModel(metrics, model.version);
  return {
    current: () => model,
    set(next) {
      model = next;
      setActiveModel(metrics, next.version);
      for (const l of listeners) l(next);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
