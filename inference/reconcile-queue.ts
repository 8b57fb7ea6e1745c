/**
 * The work queue of one reconciler: cycles run one at a time, and every request made while no cycle
 * is waiting to start asks for one more. Requests made before that cycle starts share it — it reads
 * the desired state when it starts, so it sees what each of them recorded. A cycle that throws is
 * reported to `onError`; the queue goes on.
 */
export class ReconcileQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting: Promise<void> | null = null;

  constructor(
    private readonly cycle: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Settles (never rejects) once a cycle that started after this call has ended. */
  request(): Promise<void> {
    if (this.waiting !== null) return this.waiting;
    const next = this.tail
      .then(() => {
        this.waiting = null;
        return this.cycle();
      })
      .catch((error: unknown) => {
        this.onError(error);
      });
    this.waiting = next;
    this.tail = next;
    return next;
  }
}
