import type { ModelActions } from '../api/routes/models.js';
import type { MessageViewer } from '../api/view/message-view.js';
import type { Config } from '../config/schema.js';
import type { ListCache } from '../lists/cache.js';
import type { Metrics } from '../observability/metrics.js';
import type { Policy } from '../pipeline/policy.js';
import type { Scanner } from '../pipeline/types.js';
import type { Relay } from '../smtp/types.js';
import type { Storage } from '../store/types.js';

/** What the console's routes use. */
export interface UiDeps {
  config: Config;
  storage: Storage;
  relay: Relay;
  scanner: Scanner;
  metrics: Metrics;
  listCache: ListCache;
  /** The policy in force (the lists page shows the lists of its settings, as reloaded). */
  policy: Pick<Policy, 'settings'>;
  feedbackSync: { announce(id: string): Promise<void> } | null;
  /** The digest links' HMAC key. */
  signingKey: Buffer;
  /** Parses messages for display off the event loop. */
  viewer: MessageViewer;
  /** Activation and training, the same code the API's model routes run. */
  models: ModelActions;
}
