/** Space on the filesystem that holds a directory. */
import { statfsSync } from 'node:fs';

/** Bytes free to this process's user and the filesystem's size at `dir`, or null when it cannot be read
 * (the directory does not exist yet). */
export function filesystemSpace(dir: string): { free: number; size: number } | null {
  try {
    const fs = statfsSync(dir);
    return { free: fs.bavail * fs.bsize, size: fs.blocks * fs.bsize };
  } catch {
    return null;
  }
}
