/**
 * Waiting for a condition instead of for a time: polls `check` until it returns a value other than
 * undefined/false, and fails with `what` once `timeoutMs` pass. A loaded machine only makes it slower,
 * never wrong; an idle one does not wait longer than needed.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | false | undefined | Promise<T | false | undefined>,
  { timeoutMs = 10_000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
