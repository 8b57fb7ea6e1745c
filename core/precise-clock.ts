/**
 * Wall-clock time with sub-millisecond resolution: ms since the epoch, as a float. `Date.now()` counts
 * whole milliseconds, so two nodes that swap within the same millisecond would report a spread of 0
 * or 1 ms. `performance.timeOrigin + performance.now()` has microseconds but runs on the monotonic
 * clock, which drifts from the wall clock the longer the process runs (NTP slews the wall clock, not
 * the monotonic one) — and nodes compare their stamps with each other's. So the monotonic reading is
 * kept anchored to the wall clock: whenever it leaves the millisecond `Date.now()` names, it is moved to
 * that millisecond's middle. The result is never more than 1 ms off the wall clock, and between
 * re-anchorings it keeps the monotonic clock's resolution.
 */
let origin = performance.timeOrigin;

/** Now, in ms since the epoch, with the monotonic clock's sub-millisecond resolution. */
export function preciseNow(): number {
  const monotonic = performance.now();
  const wall = Date.now();
  let now = origin + monotonic;
  if (now < wall || now >= wall + 1) {
    origin = wall + 0.5 - monotonic;
    now = origin + monotonic;
  }
  return now;
}
