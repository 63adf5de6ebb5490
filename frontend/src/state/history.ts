/** A bounded undo/redo stack of reversible changes. Pure: knows nothing about what a change means. */
export interface Change<S> {
  key: string;
  before: S | null;
  after: S | null;
}

export class History<S> {
  private done: Change<S>[][] = [];
  private undone: Change<S>[][] = [];

  constructor(private readonly limit = 500) {}

  /** Record one user action (possibly several changes, undone together). Clears the redo stack. */
  push(changes: Change<S>[]): void {
    if (changes.length === 0) return;
    this.done.push(changes);
    if (this.done.length > this.limit) this.done.shift();
    this.undone = [];
  }

  /** The action to revert, moved to the redo stack, or null when there is none. */
  popUndo(): Change<S>[] | null {
    const action = this.done.pop();
    if (action === undefined) return null;
    this.undone.push(action);
    return action;
  }

  popRedo(): Change<S>[] | null {
    const action = this.undone.pop();
    if (action === undefined) return null;
    this.done.push(action);
    return action;
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }

  get canRedo(): boolean {
    return this.undone.length > 0;
  }

  clear(): void {
    this.done = [];
    this.undone = [];
  }
}
