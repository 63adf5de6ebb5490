import { describe, expect, it } from "vitest";
import type { Annotation, ContourData } from "../src/api/types";
import { AnnotationStore } from "../src/state/store";
import { type ResyncApi, resyncAnnotations } from "../src/ws/resync";

const ME = { id: 7, username: "ann" };
const OTHER = { id: 8, username: "bob" };

function contour(x: number): ContourData {
  return { structure: "lv_endo", slice: 0, phase: 0, points: [[x, 10], [x + 10, 10], [x + 10, 20]], mode: "freehand" };
}

function annotation(id: number, version: number, x: number, author = ME, deleted = false): Annotation {
  return {
    id,
    kind: "contour",
    author,
    source: "observer",
    version,
    data: contour(x),
    created_at: "2024-01-01T00:00:00Z",
    updated_at: "2024-01-01T00:00:00Z",
    deleted,
  };
}

/** A server that answers the list and single reads from a fixed table, and records what was asked. */
function fakeApi(live: Annotation[], all: Annotation[]): ResyncApi & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    listAnnotations: (caseId: number) => {
      asked.push(`list ${caseId}`);
      return Promise.resolve(live);
    },
    request: <T>(method: string, path: string) => {
      asked.push(`${method} ${path}`);
      const id = Number(/annotations\/(\d+)\//.exec(path)?.[1]);
      const found = all.find((a) => a.id === id);
      return found === undefined ? Promise.reject(new Error("404")) : Promise.resolve(found as T);
    },
  } as ResyncApi & { asked: string[] };
}

describe("catching up after a websocket gap", () => {
  it("takes newer versions and new annotations saved while the socket was down", async () => {
    const s = new AnnotationStore();
    s.load([annotation(1, 1, 10), annotation(2, 3, 20, OTHER)], ME.id);
    const api = fakeApi([annotation(1, 1, 10), annotation(2, 4, 25, OTHER), annotation(3, 1, 30, OTHER)], []);
    await resyncAnnotations(s, api, 5);
    expect(s.get("a2")?.version).toBe(4);
    expect((s.get("a2")?.data as ContourData).points[0]).toEqual([25, 10]);
    expect(s.get("a3")?.mine).toBe(false);
    expect(api.asked).toEqual(["list 5"]);
  });

  it("leaves an entry with unsaved local edits alone, so its save meets the 409", async () => {
    const s = new AnnotationStore();
    s.load([annotation(1, 1, 10)], ME.id);
    s.update("a1", contour(50));
    await resyncAnnotations(s, fakeApi([annotation(1, 2, 99)], []), 5);
    expect(s.get("a1")?.version).toBe(1);
    expect((s.get("a1")?.data as ContourData).points[0]).toEqual([50, 10]);
    expect(s.get("a1")?.dirty).toBe(true);
  });

  it("marks annotations deleted meanwhile as deleted, with the server's version", async () => {
    const s = new AnnotationStore();
    s.load([annotation(1, 1, 10), annotation(2, 2, 20, OTHER)], ME.id);
    const api = fakeApi([annotation(1, 1, 10)], [annotation(2, 3, 20, OTHER, true)]);
    await resyncAnnotations(s, api, 5);
    expect(s.list().map((e) => e.serverId)).toEqual([1]);
    expect(s.get("a2")?.deleted).toBe(true);
    expect(s.get("a2")?.version).toBe(3);
    expect(api.asked).toEqual(["list 5", "GET annotations/2/"]);
  });

  it("keeps an annotation it can no longer read rather than failing the catch-up", async () => {
    const s = new AnnotationStore();
    s.load([annotation(1, 1, 10), annotation(2, 1, 20, OTHER)], ME.id);
    await resyncAnnotations(s, fakeApi([annotation(1, 2, 11)], []), 5);
    expect(s.get("a1")?.version).toBe(2);
    expect(s.get("a2")?.deleted).toBe(false);
  });
});
