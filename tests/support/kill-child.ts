/** Stops a child process hard (SIGKILL), as a crash would, and waits for it to be gone. */
import type { ChildProcess } from "node:child_process";

export async function killHard(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}
