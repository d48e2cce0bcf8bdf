/**
 * A progress line for long commands (messages read, passes, ETA), redrawn in place on stderr — only when
 * stderr is a terminal: in a pipe, a log file or cron mail, carriage-return redraws are noise, and stdout
 * stays for results either way.
 */

export interface Progress {
  /** `done` of the current step's `total` so far. */
  tick(done: number): void;
  /** A new step (`reading messages`, `training: 5 held-out passes + 1`), with its total if it has one. */
  step(label: string, total?: number): void;
  /** Clears the line. */
  end(): void;
}

const SILENT: Progress = { tick() {}, step() {}, end() {} };

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

export function createProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  options: { now?: () => number; intervalMs?: number } = {},
): Progress {
  if (!stream.isTTY) return SILENT;
  const now = options.now ?? (() => performance.now());
  const interval = options.intervalMs ?? 100;
  let label = '';
  let total: number | undefined;
  let started = now();
  let drawn = Number.NEGATIVE_INFINITY;
  const draw = (done: number, force = false) => {
    const t = now();
    if (!force && t - drawn < interval) return;
    drawn = t;
    const elapsed = (t - started) / 1000;
    let text = `${label}`;
    if (total !== undefined && total > 0) {
      const eta = done > 0 ? (elapsed * (total - done)) / done : Number.NaN;
      text += ` ${done}/${total} (${Math.floor((100 * done) / total)} %), ETA ${clock(eta)}`;
    } else text += ` ${clock(elapsed)}`;
    stream.write(`\r\x1b[K${text}`);
  };
  return {
    tick: (done) => draw(done),
    step(next, nextTotal) {
      label = next;
      total = nextTotal;
      started = now();
      draw(0, true);
    },
    end() {
      stream.write('\r\x1b[K');
    },
  };
}
