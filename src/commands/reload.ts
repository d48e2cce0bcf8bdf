/**
 * SIGHUP: read the configuration again (the same file, the process's environment) and apply what a running
 * service can change (src/config/reload.ts). A file that no longer loads changes nothing: the one line names
 * the key, as at start, and the settings in force stay. Each outcome is logged once, by the process that
 * received the signal.
 */
import { ConfigError } from '../config/load.js';
import { planReload } from '../config/reload.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';

export interface ReloaderOptions {
  /** The configuration the service started with. */
  initial: Config;
  /** Loads the configuration as the command did at start. */
  reread: () => Config;
  /** Puts the next configuration's policy in force. */
  apply: (next: Config) => void;
  logger: Logger;
}

export interface ConfigReloader {
  /** The SIGHUP handler. */
  reload(): void;
  /** The configuration in force: the start's, with the policy of the last reload. */
  inForce(): Config;
}

export function configReloader({ initial, reread, apply, logger }: ReloaderOptions): ConfigReloader {
  let inForce = initial;
  const reload = () => {
    let next: Config;
    try {
      next = reread();
    } catch (err) {
      // Whatever the file holds now, a reload must not stop the service.
      const message = (err as Error).message;
      logger.error(
        {
          event: 'CONFIG_RELOAD_FAILED',
          setting: err instanceof ConfigError ? err.key : undefined,
          err: message,
        },
        `configuration not reloaded, the settings in force stay: ${message}`,
      );
      return;
    }
    const plan = planReload(inForce, next);
    if (plan.applied.length > 0) {
      apply(next);
      inForce = { ...inForce, policy: next.policy };
    }
    logger.info(
      { event: 'CONFIG_RELOADED', applied: plan.applied },
      plan.applied.length > 0
        ? `configuration reloaded: ${plan.applied.join(', ')}`
        : 'configuration reloaded: no setting a reload applies has changed',
    );
    if (plan.restartNeeded.length > 0)
      logger.warn(
        { event: 'CONFIG_RESTART_NEEDED', settings: plan.restartNeeded },
        `changed settings that take effect at the next start: ${plan.restartNeeded.join(', ')}`,
      );
  };
  return { reload, inForce: () => inForce };
}

/**
 * Takes SIGHUP from now on (Node's default for it ends the process), holding a reload asked for while the
 * service starts until it is ready: then `ready(reload)` runs it once, and every later SIGHUP runs it.
 */
export function holdReloads(signals: Pick<NodeJS.EventEmitter, 'on' | 'off'>): (reload: () => void) => void {
  let asked = false;
  const early = () => {
    asked = true;
  };
  signals.on('SIGHUP', early);
  return (reload) => {
    signals.off('SIGHUP', early);
    signals.on('SIGHUP', reload);
    if (asked) reload();
  };
}
