/**
 * A configuration reload's plan and its log lines: the policy is applied, every other changed setting is named
 * as waiting for a restart (by name only: a secret's value never reaches the log), and a file that no longer
 * loads changes nothing.
 */

import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { configReloader, holdReloads } from '../../src/commands/reload.js';
import { loadConfig } from '../../src/config/load.js';
import { changedKeys, planReload } from '../../src/config/reload.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/log.js';

const base = loadConfig({ file: null, env: {} });
const withOverrides = (overrides: Record<string, unknown>) => loadConfig({ file: null, env: {}, overrides });

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

describe('planReload', () => {
  it('applies the policy and names every other changed setting, a list as one setting', () => {
    const next = withOverrides({
      policy: {
        thresholds: { tag: 0.4 },
        blockSenders: ['@bad.example'],
        domains: { 'a.example': { tag: 0.3 } },
      },
      smtp: { maxMessageSize: 2048, allowNetworks: ['10.0.0.0/8'] },
      digest: { signingKey: 's'.repeat(32) },
    });
    expect(planReload(base, next)).toEqual({
      applied: ['policy.blockSenders', 'policy.domains.a.example', 'policy.thresholds.tag'],
      restartNeeded: ['digest.signingKey', 'smtp.allowNetworks', 'smtp.maxMessageSize'],
    });
    expect(planReload(base, loadConfig({ file: null, env: {} }))).toEqual({ applied: [], restartNeeded: [] });
  });

  it('compares values, not object identity', () => {
    expect(changedKeys({ a: [1, { b: 2 }], c: null }, { a: [1, { b: 2 }], c: null })).toEqual([]);
    expect(changedKeys({ a: [1, 2] }, { a: [2, 1] })).toEqual(['a']);
    expect(changedKeys({ a: { b: 1 } }, { a: null })).toEqual(['a']);
    expect(changedKeys({}, { a: { b: 1 } })).toEqual(['a']);
  });
});

describe('configReloader', () => {
  it('applies a changed policy once, logs what it applied and what waits for a restart', () => {
    const { lines, logger } = capture();
    const applied: Config[] = [];
    let next = withOverrides({ policy: { subjectPrefix: '[HUP] ' }, digest: { signingKey: 'k'.repeat(40) } });
    const reloader = configReloader({
      initial: base,
      reread: () => next,
      apply: (c) => applied.push(c),
      logger,
    });
    const reload = reloader.reload;
    reload();
    expect(applied.map((c) => c.policy.subjectPrefix)).toEqual(['[HUP] ']);
    // In force: the start's settings with the reloaded policy (what a cluster's next worker runs with).
    expect(reloader.inForce().policy.subjectPrefix).toBe('[HUP] ');
    expect(reloader.inForce().digest.signingKey).toBeNull();
    expect(lines.map((l) => [l.event, l.msg])).toEqual([
      ['CONFIG_RELOADED', 'configuration reloaded: policy.subjectPrefix'],
      ['CONFIG_RESTART_NEEDED', 'changed settings that take effect at the next start: digest.signingKey'],
    ]);
    expect(JSON.stringify(lines)).not.toContain('k'.repeat(40));
    // The same file again: nothing to apply; the setting that waits for a restart still does.
    lines.length = 0;
    reload();
    expect(applied).toHaveLength(1);
    expect(lines.map((l) => l.event)).toEqual(['CONFIG_RELOADED', 'CONFIG_RESTART_NEEDED']);
    expect(lines[0]?.applied).toEqual([]);
    // Back to the policy it started with: applied, as a change against the policy in force.
    next = base;
    lines.length = 0;
    reload();
    expect(applied.map((c) => c.policy.subjectPrefix)).toEqual(['[HUP] ', '[SPAM] ']);
    expect(lines.map((l) => l.event)).toEqual(['CONFIG_RELOADED']);
  });

  it('keeps the settings in force when the file no longer loads, and says why in one line', () => {
    const { lines, logger } = capture();
    const applied: Config[] = [];
    const reread = () => withOverrides({ policy: { thresholds: { tag: 'high' } } });
    configReloader({ initial: base, reread, apply: (c) => applied.push(c), logger }).reload();
    expect(applied).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'CONFIG_RELOAD_FAILED', setting: 'policy.thresholds.tag' });
    expect(String(lines[0]?.msg)).toMatch(
      /^configuration not reloaded, the settings in force stay: config: policy\.thresholds\.tag: /,
    );
    // Not only a config error: whatever reading throws, the service goes on.
    const broken = () => {
      throw new Error('EIO');
    };
    expect(() =>
      configReloader({ initial: base, reread: broken, apply: () => {}, logger }).reload(),
    ).not.toThrow();
    expect(lines[1]).toMatchObject({ event: 'CONFIG_RELOAD_FAILED', err: 'EIO' });
  });
});

describe('holdReloads', () => {
  it('holds a SIGHUP that comes while the service starts, then runs the reload once it is ready', () => {
    const signals = new EventEmitter();
    const ready = holdReloads(signals);
    signals.emit('SIGHUP');
    signals.emit('SIGHUP');
    let runs = 0;
    ready(() => runs++);
    expect(runs).toBe(1);
    signals.emit('SIGHUP');
    expect(runs).toBe(2);
    expect(signals.listenerCount('SIGHUP')).toBe(1);
  });
});
