/** Durations of the start-up phases, so a slow start says which part was slow (the STARTUP log line). */
export interface StartupPhases {
  /** Ends the phase running since the previous mark (or the start). */
  mark(name: string): void;
  /** Each phase's milliseconds, `totalMs` since process start (module loading included), `cpuMs`, the
   * process's CPU time so far, and `cpu`, each phase's share of it (`import` up to the first phase): on a
   * loaded machine wall time mostly measures the queue for a core, CPU time what the start itself costs. */
  done(): Record<string, number | Record<string, number>>;
}

export function startupPhases(
  now: () => number = () => performance.now(),
  cpuNow: () => number = () => {
    const cpu = process.cpuUsage();
    return (cpu.user + cpu.system) / 1000;
  },
): StartupPhases {
  const phases: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  const began = now();
  const cpuBegan = cpuNow();
  let last = began;
  let lastCpu = cpuBegan;
  return {
    mark(name) {
      const t = now();
      const c = cpuNow();
      phases[`${name}Ms`] = Math.round(t - last);
      cpu[name] = Math.round(c - lastCpu);
      last = t;
      lastCpu = c;
    },
    done() {
      // performance.now() counts from the process's time origin, so this includes loading the modules.
      return {
        importMs: Math.round(began),
        ...phases,
        totalMs: Math.round(now()),
        cpuMs: Math.round(cpuNow()),
        cpu: { import: Math.round(cpuBegan), ...cpu },
      };
    },
  };
}
