/**
 * What this node should serve: per model it is assigned, the fleet's active version as the node last
 * learnt it — from the state read on a resync, from a `promote` message, or, before any state read,
 * from its applied.json. Readiness is computed from it, not from which slots exist: a model whose
 * first activation failed has state but no active version, and must not make the node unready.
 */

/** A model's desired active version at the revision it was learnt at; `null`: the model has none yet. */
export interface DesiredVersion {
  readonly version: string | null;
  readonly revision: number;
}

export class DesiredVersions {
  private readonly desired = new Map<string, DesiredVersion>();

  /** Records `model`'s active version at `revision`; a revision older than the one known is ignored. */
  learn(model: string, version: string | null, revision: number): void {
    const known = this.desired.get(model);
    if (known !== undefined && revision < known.revision) return;
    this.desired.set(model, { version, revision });
  }

  /** Forgets what was learnt of `model`: its state store lost its data, and revisions start again. */
  forget(model: string): void {
    this.desired.delete(model);
  }

  get(model: string): DesiredVersion | undefined {
    return this.desired.get(model);
  }

  /**
   * Ready: at least one model has a desired version, and `serving(model)` is that version for every
   * such model. Models with no active version do not count; a node with nothing to serve is not ready.
   */
  ready(serving: (model: string) => string | undefined): boolean {
    const wanted = [...this.desired].filter(([, desired]) => desired.version !== null);
    return wanted.length > 0 && wanted.every(([model, desired]) => serving(model) === desired.version);
  }
}
