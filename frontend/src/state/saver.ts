/**
 * Pushes the store's dirty entries to the server as new annotation versions: debounced, one request per
 * entry at a time, optimistic concurrency with the version the user edited. A 409 keeps the user's copy
 * and surfaces a conflict that the user resolves (overwrite with mine, or load theirs). Never silent.
 */
import { ApiError, type ApiClient } from "../api/client";
import type { Annotation, PhasesData } from "../api/types";
import { markSave } from "./perf";
import type { AnnotationStore, Entry } from "./store";

export type SaveStatus = "saved" | "saving" | "conflict" | "error";

export interface Conflict {
  key: string;
  /** The server's current annotation (someone saved it after the version we edited). */
  current: Annotation | null;
  message: string;
}

export interface SaverState {
  status: SaveStatus;
  conflicts: Conflict[];
  error: string | null;
}

export class Saver {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight = new Map<string, Promise<void>>();
  private conflicts = new Map<string, Conflict>();
  private lastError: string | null = null;
  private listeners = new Set<(state: SaverState) => void>();
  private unsubscribe: () => void;

  constructor(
    private readonly store: AnnotationStore,
    private readonly api: ApiClient,
    private readonly caseId: number,
    private readonly debounceMs = 400,
  ) {
    this.unsubscribe = store.subscribe(() => {
      if (this.store.dirty) this.schedule();
      this.emit();
    });
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.unsubscribe();
    this.listeners.clear();
  }

  onChange(listener: (state: SaverState) => void): () => void {
    this.listeners.add(listener);
    listener(this.state());
    return () => this.listeners.delete(listener);
  }

  state(): SaverState {
    const conflicts = [...this.conflicts.values()];
    let status: SaveStatus = "saved";
    if (conflicts.length > 0) status = "conflict";
    else if (this.lastError !== null) status = "error";
    else if (this.inFlight.size > 0 || this.store.dirty) status = "saving";
    return { status, conflicts, error: this.lastError };
  }

  private emit(): void {
    const state = this.state();
    for (const listener of this.listeners) listener(state);
  }

  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.debounceMs);
  }

  /** Save every dirty entry now; resolves when all requests (including follow-ups) have finished. */
  async flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    for (let round = 0; round < 5; round++) {
      const work = this.store
        .dirtyEntries()
        .filter((e) => !this.conflicts.has(e.key))
        .map((e) => this.saveEntry(e));
      if (work.length === 0 && this.inFlight.size === 0) break;
      await Promise.all([...work, ...this.inFlight.values()]);
      if (this.lastError !== null) break;
    }
    this.emit();
  }

  private saveEntry(entry: Entry): Promise<void> {
    const running = this.inFlight.get(entry.key);
    if (running !== undefined) return running;
    const promise = this.send(entry).finally(() => {
      this.inFlight.delete(entry.key);
      this.emit();
    });
    this.inFlight.set(entry.key, promise);
    this.emit();
    return promise;
  }

  private async send(entry: Entry): Promise<void> {
    const revision = entry.revision;
    const { key } = entry;
    const started = performance.now();
    let method = "PUT";
    try {
      let saved: Annotation;
      if (entry.kind === "phases") {
        method = "PATCH";
        saved = await this.api.setPhases(this.caseId, entry.data as PhasesData);
      } else if (entry.serverId === null) {
        if (entry.deleted) {
          // Created and deleted before it ever reached the server: nothing to tell it.
          this.store.markClean(key, revision);
          return;
        }
        method = "POST";
        saved = await this.api.createAnnotation(this.caseId, entry.kind, entry.data);
      } else if (entry.deleted) {
        method = "DELETE";
        await this.api.deleteAnnotation(entry.serverId, entry.version);
        saved = { id: entry.serverId, version: entry.version + 1 } as Annotation;
      } else {
        saved = await this.api.updateAnnotation(entry.serverId, entry.data, entry.version);
      }
      markSave(method, started, true);
      this.lastError = null;
      this.store.acknowledge(key, saved, revision);
    } catch (error) {
      markSave(method, started, false);
      if (error instanceof ApiError && error.status === 409) {
        const current = extractCurrent(error.body);
        const who = current !== null ? ` (version ${current.version} by ${current.author.username})` : "";
        this.conflicts.set(key, {
          key,
          current,
          message:
            `Someone else saved this ${entry.kind.replace("_", " ")}${who} after you opened it. ` +
            "Your copy is kept on screen and has not been saved. Keep yours to overwrite theirs, or load theirs.",
        });
      } else {
        this.lastError = error instanceof Error ? error.message : String(error);
      }
    }
  }

  /** Resolve a conflict: "mine" saves the local copy over the current version; "theirs" loads the server's. */
  resolve(key: string, choice: "mine" | "theirs"): Promise<void> {
    const conflict = this.conflicts.get(key);
    if (conflict === undefined) return Promise.resolve();
    this.conflicts.delete(key);
    if (conflict.current !== null) {
      if (choice === "mine") this.store.rebase(key, conflict.current.version);
      else this.store.takeServerCopy(key, conflict.current);
    }
    return this.flush();
  }

  /** Try again after an error (network down, 500). */
  retry(): Promise<void> {
    this.lastError = null;
    return this.flush();
  }
}

function extractCurrent(body: unknown): Annotation | null {
  if (typeof body === "object" && body !== null && "current" in body) {
    const current = (body as { current: unknown }).current;
    if (typeof current === "object" && current !== null && "version" in current) return current as Annotation;
  }
  return null;
}
