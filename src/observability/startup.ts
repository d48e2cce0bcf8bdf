/** Durations of the start-up phases, so a slow start says which part was slow (the STARTUP log line). */
export interface StartupPhases {
  /** Ends the phase running since the previous mark (or the start). */
  mark(name: string): void;
  /** Each phase's milliseconds and `totalMs` since process start (module loading included). */
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
      return { importMs: Math.round(began), ...phases, totalMs: Math.round(now()) };
    },
  };
}
