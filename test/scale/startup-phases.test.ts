import { describe, expect, it } from 'vitest';
import { startupPhases } from '../../src/observability/startup.js';

describe('start-up phases (the STARTUP log line)', () => {
  it('times each phase from the previous mark, with module loading and CPU time', () => {
    const clock = [1200, 1500, 1525, 2100];
    const cpuClock = [900, 1000, 1010.4, 1300];
    const phases = startupPhases(
      () => clock.shift() as number,
      () => cpuClock.shift() as number,
    );
    phases.mark('storage');
    phases.mark('model');
    const done = phases.done();
    expect(done).toEqual({
      importMs: 1200,
      storageMs: 300,
      modelMs: 25,
      totalMs: 2100,
      cpuMs: 1300,
      cpu: { import: 900, storage: 100, model: 10 },
    });
  });

  it('reads the process CPU time by default', () => {
    const done = startupPhases().done();
    expect(done.cpuMs).toBeGreaterThan(0);
  });
});
