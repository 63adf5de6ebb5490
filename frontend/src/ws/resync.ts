/**
 * Catch up after a websocket gap: events pushed while the socket was down are lost (the channel layer
 * keeps no backlog), so re-read the case's annotations and fold them into the store as if they had been
 * pushed. Entries with unsaved local edits are left alone; their next save meets the 409 as usual.
 */
import type { ApiClient } from "../api/client";
import type { Annotation } from "../api/types";
import type { AnnotationStore } from "../state/store";

export type ResyncApi = Pick<ApiClient, "listAnnotations" | "request">;

export async function resyncAnnotations(store: AnnotationStore, api: ResyncApi, caseId: number): Promise<void> {
  const live = await api.listAnnotations(caseId);
  const liveIds = new Set(live.map((a) => a.id));
  for (const a of live) store.applyRemote(a);
  // Missing from the list: deleted meanwhile. Read each one for its real version (the list omits deleted
  // annotations) rather than guessing it, so a later undo-and-save is based on the right version.
  const gone = store.list().filter((e) => e.serverId !== null && !e.dirty && !liveIds.has(e.serverId));
  for (const entry of gone) {
    try {
      store.applyRemote(await api.request<Annotation>("GET", `annotations/${entry.serverId}/`));
    } catch {
      // No longer visible to this user at all: nothing newer to show.
    }
  }
}
