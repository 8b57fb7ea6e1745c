/**
 * The server's reconcile tick: every `intervalMs`, one pass over the models with a rollout recorded
 * (ProgressiveRunner.tickAll). Passes never overlap: a pass that outlasts the interval (a step being
 * staged) delays the next one. A Lambda controller has no loop: a scheduled event runs one pass.
 */
import { errorMessage } from "../../core/errors.js";

export class ReconcileLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .catch((error: unknown) => this.log(`reconcile pass failed: ${errorMessage(error)}`))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops ticking; resolves once a pass under way has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
