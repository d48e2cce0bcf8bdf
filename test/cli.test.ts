import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskSecrets } from '../src/config/load.js';

describe('configuration', () => {
  it('has working defaults with no file and no environment', () => {
    const config = loadConfig({ file: null, env: {} });
    expect(config.smtp.listen).toBe('127.0.0.1:10025');
    expect(config.relay.to).toBe('127.0.0.1:10026');
    expect(config.api.listen).toBe('127.0.0.1:8080');
    expect(config.database.url).toBeNull();
    expect(config.cache.enabled).toBe(true);
    expect(Object.isFrozen(config.smtp)).toBe(true);
  });

  it('takes the documented environment variables', () => {
    const config = loadConfig({
      file: null,
      env: {
        SMTP_LISTEN: '[::1]:2525',
        VERDICT_CACHE: 'off',
        LOG_LEVEL: 'debug',
        DATABASE_URL: 'postgres://u:pw@h/db',
        SMTP_ALLOW_NETWORKS: '127.0.0.0/8, 10.0.0.0/8,172.16.0.0/12',
      },
    });
    expect(config.smtp.allowNetworks).toEqual(['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12']);
    expect(config.smtp.listen).toBe('[::1]:2525');
    expect(config.cache.enabled).toBe(false);
    expect(config.log.level).toBe('debug');
    expect(JSON.stringify(maskSecrets(config))).not.toContain('pw@');
  });

  it.each([
    [{ VERDICT_CACHE: 'maybe' }, 'cache.enabled'],
    [{ SMTP_LISTEN: 'nowhere' }, 'smtp.listen'],
    [{ REDIS_URL: 'http://x' }, 'redis.url'],
    [{ LOG_LEVEL: 'loud' }, 'log.level'],
    [{ SMTP_ALLOW_NETWORKS: '10.0.0.0/8,not-a-net' }, 'smtp.allowNetworks'],
    [{ SMTP_PROCESSES: '2' }, 'smtp.processes'],
  ])('names the bad key in one line: %j', (env, key) => {
    let error: unknown;
    try {
      loadConfig({ file: null, env });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key.startsWith(key)).toBe(true);
    expect((error as ConfigError).message).not.toContain('\n');
  });

  it('rejects unknown keys and inconsistent thresholds', () => {
    expect(() =>
      loadConfig({ file: null, env: {}, overrides: { smtp: { maxRecipents: 5 } as never } }),
    ).toThrow(ConfigError);
    expect(() =>
      loadConfig({
        file: null,
        env: {},
        overrides: { policy: { thresholds: { tag: 0.9, quarantine: 0.5 } } },
      }),
    ).toThrow(/policy\.thresholds\.quarantine/);
  });
});
