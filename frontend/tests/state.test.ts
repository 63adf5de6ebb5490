import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../src/api/client";
import type { Annotation, ContourData } from "../src/api/types";
import { Saver } from "../src/state/saver";
import { AnnotationStore, store } from "../src/state/store";

const ME = { id: 7, username: "ann" };
const OTHER = { id: 8, username: "bob" };

function contour(phase = 0, x = 10): ContourData {
  return { structure: "lv_endo", slice: 0, phase, points: [[x, 10], [x + 10, 10], [x + 10, 20]], mode: "freehand" };
}

function annotation(id: number, version: number, data: unknown, author = ME): Annotation {
  return {
    id,
    kind: "contour",
    author,
    source: "observer",
    version,
    data,
    created_at: "2024-01-01T00:00:00Z",
    updated_at: "2024-01-01T00:00:00Z",
    deleted: false,
  };
}

function json(status: number, body: unknown): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

type Call = { url: string; method: string; body: unknown; headers: Record<string, string> };

/** A fake server for one case: records calls and answers from a handler. */
function fakeFetch(handler: (call: Call) => Response) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: string, init?: RequestInit) => {
    const call: Call = {
      url,
      method: init?.method ?? "GET",
      body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
      headers: (init?.headers ?? {}) as Record<string, string>,
    };
    calls.push(call);
    return handler(call);
  });
  return { fn, calls };
}

describe("annotation store", () => {
  let s: AnnotationStore;
  beforeEach(() => {
    s = new AnnotationStore();
    s.load([], ME.id);
  });

  it("undoes and redoes an add, an update and a remove in order", () => {
    const key = s.add("contour", contour(0, 10));
    s.update(key, contour(0, 20));
    s.remove(key);
    expect(s.list()).toHaveLength(0);
    s.undo();
    expect((s.get(key)?.data as ContourData).points[0]).toEqual([20, 10]);
    s.undo();
    expect((s.get(key)?.data as ContourData).points[0]).toEqual([10, 10]);
    s.undo();
    expect(s.list()).toHaveLength(0);
    expect(s.canUndo).toBe(false);
    s.redo();
    s.redo();
    expect((s.get(key)?.data as ContourData).points[0]).toEqual([20, 10]);
    expect(s.canRedo).toBe(true);
  });

  it("drops the redo stack when a new change is made after an undo", () => {
    const key = s.add("contour", contour());
    s.update(key, contour(0, 30));
    s.undo();
    s.update(key, contour(0, 40));
    expect(s.canRedo).toBe(false);
    expect(s.redo()).toBe(false);
  });

  it("undoes a transaction of several changes as one step", () => {
    s.transaction(() => {
      s.add("contour", contour(0));
      s.add("contour", contour(1));
    });
    expect(s.list()).toHaveLength(2);
    s.undo();
    expect(s.list()).toHaveLength(0);
  });

  it("marks edits dirty and loaded annotations clean", () => {
    s.load([annotation(1, 3, contour())], ME.id);
    expect(s.dirty).toBe(false);
    s.update("a1", contour(0, 50));
    expect(s.dirty).toBe(true);
    expect(s.dirtyEntries().map((e) => e.key)).toEqual(["a1"]);
  });

  it("refuses to edit another observer's annotation", () => {
    s.load([annotation(2, 1, contour(), OTHER)], ME.id);
    expect(s.get("a2")?.mine).toBe(false);
    expect(() => s.update("a2", contour(0, 1))).toThrow(/bob/);
  });

  it("ignores the websocket echo of its own save and takes a newer version from elsewhere", () => {
    s.load([annotation(1, 2, contour(0, 10))], ME.id);
    s.applyRemote(annotation(1, 2, contour(0, 99)));
    expect((s.get("a1")?.data as ContourData).points[0]).toEqual([10, 10]);
    s.applyRemote(annotation(1, 3, contour(0, 99)));
    expect(s.get("a1")?.version).toBe(3);
    expect((s.get("a1")?.data as ContourData).points[0]).toEqual([99, 10]);
    s.applyRemote(annotation(5, 1, contour(), OTHER));
    expect(s.get("a5")?.mine).toBe(false);
  });

  it("forgets everything on reset", () => {
    store.load([annotation(1, 1, contour())], ME.id);
    store.add("contour", contour(2));
    const listener = vi.fn();
    store.subscribe(listener);
    store.reset();
    expect(store.list()).toHaveLength(0);
    expect(store.canUndo).toBe(false);
    expect(store.userId).toBeNull();
    store.add("contour", contour());
    expect(listener).not.toHaveBeenCalled();
    expect(store.list()[0]?.key).toBe("n1");
    store.reset();
  });
});

describe("saver", () => {
  let s: AnnotationStore;
  beforeEach(() => {
    s = new AnnotationStore();
  });

  it("creates a new contour with POST, then updates it with PUT and the version it edited", async () => {
    let version = 0;
    const server = fakeFetch((call) => {
      version += 1;
      if (call.method === "POST") return json(201, annotation(11, 1, (call.body as { data: unknown }).data));
      return json(200, annotation(11, version, (call.body as { data: unknown }).data));
    });
    s.load([], ME.id);
    const saver = new Saver(s, new ApiClient("/api/", server.fn, () => "tok"), 3, 10_000);
    const key = s.add("contour", contour());
    await saver.flush();
    expect(server.calls[0]).toMatchObject({ url: "/api/cases/3/annotations/", method: "POST", body: { kind: "contour" } });
    expect(server.calls[0]?.headers["X-CSRFToken"]).toBe("tok");
    expect(s.get(key)).toMatchObject({ serverId: 11, version: 1, dirty: false });
    s.update(key, contour(0, 30));
    await saver.flush();
    expect(server.calls[1]).toMatchObject({ url: "/api/annotations/11/", method: "PUT", body: { version: 1 } });
    expect(s.get(key)?.version).toBe(2);
    expect(saver.state().status).toBe("saved");
    saver.dispose();
  });

  it("keeps the user's copy and reports a conflict on 409, then overwrites knowingly on 'mine'", async () => {
    const theirs = annotation(1, 4, contour(0, 70), OTHER);
    const server = fakeFetch((call) => {
      const body = call.body as { data: unknown; version: number };
      if (body.version < 4) return json(409, { detail: "stale version", current: theirs });
      return json(200, annotation(1, body.version + 1, body.data));
    });
    s.load([annotation(1, 3, contour(0, 10))], ME.id);
    const saver = new Saver(s, new ApiClient("/api/", server.fn, () => "tok"), 3, 10_000);
    s.update("a1", contour(0, 40));
    await saver.flush();
    const state = saver.state();
    expect(state.status).toBe("conflict");
    expect(state.conflicts[0]?.message).toMatch(/version 4 by bob/);
    expect(state.conflicts[0]?.message).toMatch(/Your copy is kept/);
    expect((s.get("a1")?.data as ContourData).points[0]).toEqual([40, 10]);
    expect(s.get("a1")?.dirty).toBe(true);
    // No retry loop behind the user's back while the conflict is open.
    await saver.flush();
    expect(server.calls).toHaveLength(1);
    await saver.resolve("a1", "mine");
    expect(server.calls[1]?.body).toMatchObject({ version: 4 });
    expect(s.get("a1")).toMatchObject({ version: 5, dirty: false });
    expect((s.get("a1")?.data as ContourData).points[0]).toEqual([40, 10]);
    expect(saver.state().status).toBe("saved");
    saver.dispose();
  });

  it("loads the other copy without saving when the user picks 'theirs'", async () => {
    const theirs = annotation(1, 4, contour(0, 70), OTHER);
    const server = fakeFetch(() => json(409, { detail: "stale version", current: theirs }));
    s.load([annotation(1, 3, contour(0, 10))], ME.id);
    const saver = new Saver(s, new ApiClient("/api/", server.fn), 3, 10_000);
    s.update("a1", contour(0, 40));
    await saver.flush();
    await saver.resolve("a1", "theirs");
    expect(server.calls).toHaveLength(1);
    expect((s.get("a1")?.data as ContourData).points[0]).toEqual([70, 10]);
    expect(s.get("a1")).toMatchObject({ version: 4, dirty: false });
    expect(saver.state().status).toBe("saved");
    saver.dispose();
  });

  it("reports an error and keeps the edit dirty when the server fails, and saves on retry", async () => {
    let fail = true;
    const server = fakeFetch((call) => (fail ? json(500, { detail: "boom" }) : json(201, annotation(2, 1, (call.body as { data: unknown }).data))));
    s.load([], ME.id);
    const saver = new Saver(s, new ApiClient("/api/", server.fn), 3, 10_000);
    const key = s.add("contour", contour());
    await saver.flush();
    expect(saver.state()).toMatchObject({ status: "error", error: "boom" });
    expect(s.get(key)?.dirty).toBe(true);
    fail = false;
    await saver.retry();
    expect(saver.state().status).toBe("saved");
    expect(s.get(key)?.serverId).toBe(2);
    saver.dispose();
  });

  it("deletes with the version and sends nothing for a contour created and deleted before saving", async () => {
    const server = fakeFetch(() => json(204, null));
    s.load([annotation(4, 2, contour())], ME.id);
    const saver = new Saver(s, new ApiClient("/api/", server.fn), 3, 10_000);
    s.remove("a4");
    const key = s.add("contour", contour(1));
    s.remove(key);
    await saver.flush();
    expect(server.calls).toHaveLength(1);
    expect(server.calls[0]).toMatchObject({ url: "/api/annotations/4/?version=2", method: "DELETE" });
    expect(saver.state().status).toBe("saved");
    saver.dispose();
  });

  it("saves again when the user edits while a save is in flight", async () => {
    let release: (() => void) | null = null;
    let version = 1;
    const server = fakeFetch((call) => {
      version += 1;
      return json(200, annotation(1, version, (call.body as { data: unknown }).data));
    });
    const slow = vi.fn(async (url: string, init?: RequestInit) => {
      if (release === null) await new Promise<void>((r) => (release = r));
      return server.fn(url, init);
    });
    s.load([annotation(1, 1, contour())], ME.id);
    const saver = new Saver(s, new ApiClient("/api/", slow), 3, 10_000);
    s.update("a1", contour(0, 20));
    const first = saver.flush();
    await Promise.resolve();
    s.update("a1", contour(0, 30));
    (release as unknown as () => void)();
    await first;
    await saver.flush();
    expect(server.calls.map((c) => (c.body as { version: number }).version)).toEqual([1, 2]);
    expect(s.get("a1")).toMatchObject({ version: 3, dirty: false });
    saver.dispose();
  });

  it("debounces autosave after edits", async () => {
    vi.useFakeTimers();
    try {
      const server = fakeFetch((call) => json(201, annotation(9, 1, (call.body as { data: unknown }).data)));
      s.load([], ME.id);
      const saver = new Saver(s, new ApiClient("/api/", server.fn), 3, 300);
      s.add("contour", contour(0));
      s.add("contour", contour(1));
      await vi.advanceTimersByTimeAsync(100);
      expect(server.calls).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(400);
      expect(server.calls).toHaveLength(2);
      saver.dispose();
    } finally {
      vi.useRealTimers();
    }
  });
});
