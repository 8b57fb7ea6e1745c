/**
 * The `cutover` exit codes, chosen in one function from what a command threw, so that a pipeline can
 * tell "the fleet serves it" (0) from "the pointer moved but some node did not say so" (3).
 */
import { CommanderError } from "commander";
import { CutoverError, ErrorCode } from "../../core/errors.js";

export const ExitCode = {
  /** The command did what it says; for activate/rollback, every node that staged it confirmed. */
  Ok: 0,
  /** The operation failed or was refused; one line on stderr says why. */
  Failed: 1,
  /** The command line itself was wrong. */
  Usage: 2,
  /** activate/rollback: the pointer moved, but not every node that staged the target confirmed it. */
  Unconfirmed: 3,
  /** activate with a strategy: the rollout holds at a step (inconclusive); promote or abort decides. */
  Holding: 4,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for a command that threw `error`. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  if (error instanceof CutoverError && error.code === ErrorCode.PromoteUnconfirmed) return ExitCode.Unconfirmed;
  if (error instanceof CutoverError && error.code === ErrorCode.RolloutHolding) return ExitCode.Holding;
  return ExitCode.Failed;
}

/** The exit codes as `--help` of activate and rollback prints them. */
export const ROLLOUT_EXIT_CODES = `
Exit codes:
  0  promoted, and every node that staged it confirmed serving it (or it was already active)
  1  failed or refused; one line on stderr says why (ROLLOUT_ABORTED, NOT_ENOUGH_NODES: nothing changed)
  2  wrong command line
  3  promoted (the pointer moved), but not every node that staged it confirmed in time;
     the output names each missing node (--json: "unconfirmed")
  4  --canary/--linear without --manual: the rollout holds at a step (inconclusive analysis);
     cutover promote or cutover abort decides`;
