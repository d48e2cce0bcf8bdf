/** Durations of the start-up phases, so a slow start says which part was slow (the STARTUP log line). */
export interface StartupPhases {
  /** Ends the phase running since the previous mark (or the start). */
  mark(name: string): void;
  /** Each phase's milliseconds, `totalMs` since process start (module loading included) and `cpuMs`, the
   * process's CPU time so far: on a loaded machine wall time mostly measures the queue for a core. */
  done(): Record<string, number>;
}

export function startupPhases(now: () => number = () => performance.now()): StartupPhases {
  const phases: Record<string, number> = {};
  const began = now();
  let last = began;
  return {
    mark(name) {
      const t = now();
      phases[`${name}Ms`] = Math.round(t - last);
      last = t;
    },
    done() {
      // performance.now() counts from the process's time origin, so this includes loading the modules.
      const cpu = process.cpuUsage();
      return {
        importMs: Math.round(began),
        ...phases,
        totalMs: Math.round(now()),
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      };
    },
  };
}
