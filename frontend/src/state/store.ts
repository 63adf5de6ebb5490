/**
 * Annotation state for one case: the observer's own annotations (editable, undoable, saved with
 * versions), other authors' and the model's (read-only), and which are dirty. No DOM, no network:
 * `Saver` pushes dirty entries to the server.
 */
import type { Annotation, AnnotationKind } from "../api/types";
import { type Change, History } from "./history";
import { perf } from "./perf";

export interface Entry<D = unknown> {
  /** Local identity, stable across the first save: "a<serverId>" or "n<counter>". */
  key: string;
  serverId: number | null;
  /** The server version this copy was based on (0 before the first save). */
  version: number;
  kind: AnnotationKind;
  data: D;
  deleted: boolean;
  mine: boolean;
  source: "observer" | "model";
  author: string;
  /** Local edits not yet acknowledged by the server. */
  dirty: boolean;
  /** Bumped on every local edit, so a save that finishes after a newer edit leaves the entry dirty. */
  revision: number;
}

interface Snapshot {
  data: unknown;
  deleted: boolean;
}

export type Listener = () => void;

export class AnnotationStore {
  private entries = new Map<string, Entry>();
  private history = new History<Snapshot>();
  private listeners = new Set<Listener>();
  private counter = 0;
  userId: number | null = null;
  /** The page is up but the case's annotations are still on their way (see `beginLoading`). */
  loading = false;

  /** Forget everything (for tests and when a page is torn down). */
  reset(): void {
    this.entries.clear();
    this.history.clear();
    this.listeners.clear();
    this.counter = 0;
    this.userId = null;
    this.loading = false;
  }

  /**
   * The page is shown before the annotation list arrives (a big case's list takes longer than its first
   * image). Until `load`, edits are refused rather than silently replaced by the list.
   */
  beginLoading(userId: number): void {
    this.entries.clear();
    this.history.clear();
    this.userId = userId;
    this.loading = true;
    this.notify();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Replace the store's content with the server's list. */
  load(annotations: readonly Annotation[], userId: number): void {
    this.entries.clear();
    this.history.clear();
    this.userId = userId;
    this.loading = false;
    perf.annotationsLoadedMs ??= performance.now();
    for (const a of annotations) this.entries.set(`a${a.id}`, this.fromServer(a));
    this.notify();
  }

  private fromServer(a: Annotation): Entry {
    return {
      key: `a${a.id}`,
      serverId: a.id,
      version: a.version,
      kind: a.kind,
      data: a.data,
      deleted: a.deleted,
      mine: a.author.id === this.userId && a.source !== "model",
      source: a.source,
      author: a.author.username,
      dirty: false,
      revision: 0,
    };
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  findByServerId(id: number): Entry | undefined {
    return this.entries.get(`a${id}`) ?? [...this.entries.values()].find((e) => e.serverId === id);
  }

  /** Live (not deleted) entries, optionally of one kind. */
  list<D = unknown>(kind?: AnnotationKind): Entry<D>[] {
    const out: Entry<D>[] = [];
    for (const e of this.entries.values()) if (!e.deleted && (kind === undefined || e.kind === kind)) out.push(e as Entry<D>);
    return out;
  }

  /** Every entry the server has not acknowledged yet, deletions included. */
  dirtyEntries(): Entry[] {
    return [...this.entries.values()].filter((e) => e.dirty && e.mine);
  }

  get dirty(): boolean {
    return this.dirtyEntries().length > 0;
  }

  get canUndo(): boolean {
    return this.history.canUndo;
  }

  get canRedo(): boolean {
    return this.history.canRedo;
  }

  /** Start a batch: every add/update/remove until `commit` is one undo step. */
  private pending: Change<Snapshot>[] | null = null;

  transaction(body: () => void): void {
    this.refuseWhileLoading();
    const outer = this.pending === null;
    if (outer) this.pending = [];
    try {
      body();
    } finally {
      if (outer) {
        const changes = this.pending ?? [];
        this.pending = null;
        this.history.push(changes);
        this.notify();
      }
    }
  }

  private record(change: Change<Snapshot>): void {
    if (this.pending !== null) this.pending.push(change);
    else {
      this.history.push([change]);
      this.notify();
    }
  }

  add<D>(kind: AnnotationKind, data: D): string {
    this.refuseWhileLoading();
    const key = `n${++this.counter}`;
    this.entries.set(key, {
      key,
      serverId: null,
      version: 0,
      kind,
      data,
      deleted: false,
      mine: true,
      source: "observer",
      author: "me",
      dirty: true,
      revision: 1,
    });
    this.record({ key, before: null, after: { data, deleted: false } });
    return key;
  }

  update<D>(key: string, data: D): void {
    const entry = this.ownEntry(key);
    const before = { data: entry.data, deleted: entry.deleted };
    this.apply(entry, { data, deleted: false });
    this.record({ key, before, after: { data, deleted: false } });
  }

  remove(key: string): void {
    const entry = this.ownEntry(key);
    if (entry.deleted) return;
    const before = { data: entry.data, deleted: false };
    this.apply(entry, { data: entry.data, deleted: true });
    this.record({ key, before, after: null });
  }

  undo(): boolean {
    const action = this.history.popUndo();
    if (action === null) return false;
    for (const change of [...action].reverse()) this.restore(change.key, change.before);
    this.notify();
    return true;
  }

  redo(): boolean {
    const action = this.history.popRedo();
    if (action === null) return false;
    for (const change of action) this.restore(change.key, change.after);
    this.notify();
    return true;
  }

  private restore(key: string, snapshot: Snapshot | null): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.apply(entry, snapshot ?? { data: entry.data, deleted: true });
  }

  private apply(entry: Entry, snapshot: Snapshot): void {
    entry.data = snapshot.data;
    entry.deleted = snapshot.deleted;
    entry.dirty = true;
    entry.revision += 1;
  }

  private refuseWhileLoading(): void {
    if (this.loading) throw new Error("the case's annotations are still loading; try again in a moment");
  }

  private ownEntry(key: string): Entry {
    const entry = this.entries.get(key);
    if (entry === undefined) throw new Error(`no annotation ${key}`);
    if (!entry.mine) throw new Error(`annotation ${key} belongs to ${entry.author} and cannot be edited`);
    return entry;
  }

  /** The server acknowledged `revision` of an entry (create, update or delete). */
  acknowledge(key: string, saved: Annotation, revision: number): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    entry.serverId = saved.id;
    entry.version = saved.version;
    if (entry.revision === revision) entry.dirty = false;
    this.notify();
  }

  /** Nothing to send for this revision (created and deleted before it was ever saved). */
  markClean(key: string, revision: number): void {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.revision === revision) entry.dirty = false;
    this.notify();
  }

  /** Take the server's copy for an entry, dropping local edits (the "reload" answer to a conflict). */
  takeServerCopy(key: string, current: Annotation): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    entry.data = current.data;
    entry.deleted = current.deleted;
    entry.version = current.version;
    entry.dirty = false;
    entry.revision += 1;
    this.notify();
  }

  /** Keep the local copy but base it on `version`, so the next save overwrites knowingly. */
  rebase(key: string, version: number): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    entry.version = version;
    entry.dirty = true;
    entry.revision += 1;
    this.notify();
  }

  /**
   * Apply an annotation pushed by the server (websocket). Echoes of our own saves are ignored; a newer
   * version of an entry with no local edits replaces it; an entry with local edits is left alone, and
   * its next save meets the 409.
   */
  applyRemote(a: Annotation): void {
    const existing = this.findByServerId(a.id);
    if (existing === undefined) {
      // Our own fresh create arrives before its POST resolves: it will be acknowledged by the POST.
      if (a.author.id === this.userId && a.source !== "model" && this.hasUnsavedCreates(a.kind)) return;
      this.entries.set(`a${a.id}`, this.fromServer(a));
      this.notify();
      return;
    }
    if (a.version <= existing.version || existing.dirty) return;
    existing.data = a.data;
    existing.deleted = a.deleted;
    existing.version = a.version;
    this.notify();
  }

  private hasUnsavedCreates(kind: AnnotationKind): boolean {
    for (const e of this.entries.values()) if (e.serverId === null && e.kind === kind && e.dirty) return true;
    return false;
  }
}

/** The page's store. Tests call `store.reset()` between cases. */
export const store = new AnnotationStore();
