/**
 * Commander argument parsers for numeric flags. A bad value throws commander's
 * `InvalidArgumentError`, so the command line is refused (exit 2) with a message naming the flag,
 * before anything is sent anywhere.
 */
import { InvalidArgumentError } from "commander";

/** An integer flag from `min` to `max` (`max` absent: no upper bound). */
export function integerFlag(flag: string, min: number, max?: number): (value: string) => number {
  const rule = max === undefined ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isInteger(parsed) || parsed < min || (max !== undefined && parsed > max))
      throw new InvalidArgumentError(`${flag} must be ${rule}`);
    return parsed;
  };
}

/** A duration flag in seconds (fractions allowed), at least `min` seconds; the value in milliseconds. */
export function secondsFlag(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isFinite(parsed) || parsed < min || parsed > max)
      throw new InvalidArgumentError(`${flag} must be a number of seconds from ${min} to ${max}`);
    return Math.round(parsed * 1000);
  };
}

/** A worker-instances flag: `auto`, or an integer from 0 to `max`. */
export function instancesFlag(flag: string, max: number): (value: string) => number | "auto" {
  const count = integerFlag(flag, 0, max);
  return (value) => {
    if (value.trim() === "auto") return "auto";
    try {
      return count(value);
    } catch {
      throw new InvalidArgumentError(`${flag} must be auto or an integer from 0 to ${max}`);
    }
  };
}

/** A rate: a fraction (0.01) or a percent (1%). */
export function rateFlag(flag: string): (value: string) => number {
  return (value) => {
    const text = value.trim();
    const rate = text.endsWith("%") ? Number(text.slice(0, -1)) / 100 : Number(text);
    if (text === "" || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new InvalidArgumentError(`${flag} must be a fraction from 0 to 1 or a percent (e.g. 0.01 or 1%)`);
    }
    return rate;
  };
}
