import { afterEach, describe, expect, it, vi } from "vitest";
import { ReconnectingSocket, type SocketLike, socketUrl } from "../src/ws/socket";

class FakeSocket implements SocketLike {
  onopen: ((ev: Event) => unknown) | null = null;
  onclose: ((ev: CloseEvent) => unknown) | null = null;
  onmessage: ((ev: MessageEvent) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  close(): void {
    this.closed = true;
  }
  open(): void {
    this.onopen?.({} as Event);
  }
  drop(code = 1006): void {
    this.onclose?.({ code } as CloseEvent);
  }
  send(data: string): void {
    this.onmessage?.({ data } as MessageEvent);
  }
}

describe("reconnecting websocket", () => {
  afterEach(() => vi.useRealTimers());

  it("hands parsed messages to the callback and skips garbage", () => {
    const sockets: FakeSocket[] = [];
    const received: unknown[] = [];
    const ws = new ReconnectingSocket("ws://x/ws/cases/1/", (m) => received.push(m), {
      factory: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
    });
    sockets[0]?.open();
    sockets[0]?.send('{"type":"annotation.saved","annotation":{"id":1}}');
    sockets[0]?.send("not json");
    expect(received).toEqual([{ type: "annotation.saved", annotation: { id: 1 } }]);
    ws.close();
    expect(sockets[0]?.closed).toBe(true);
  });

  it("reconnects with growing delays and resets the delay once connected", () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const sockets: FakeSocket[] = [];
    const ws = new ReconnectingSocket("ws://x/", () => undefined, {
      initialDelayMs: 100,
      maxDelayMs: 350,
      factory: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
    });
    sockets[0]?.drop();
    vi.advanceTimersByTime(99);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    sockets[1]?.drop();
    vi.advanceTimersByTime(199);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
    sockets[2]?.drop();
    vi.advanceTimersByTime(350);
    expect(sockets).toHaveLength(4);
    sockets[3]?.open();
    sockets[3]?.drop();
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(5);
    ws.close();
    sockets[4]?.drop();
    vi.advanceTimersByTime(10_000);
    expect(sockets).toHaveLength(5);
  });

  it("asks the page to catch up when a socket opens after a drop, but not on the first open", () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const sockets: FakeSocket[] = [];
    const onReconnect = vi.fn();
    const ws = new ReconnectingSocket("ws://x/", () => undefined, {
      initialDelayMs: 100,
      onReconnect,
      factory: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
    });
    sockets[0]?.open();
    expect(onReconnect).not.toHaveBeenCalled();
    // The channel layer went away: the server closes the socket (1011), the client comes back by itself.
    sockets[0]?.drop(1011);
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(2);
    expect(onReconnect).not.toHaveBeenCalled(); // not open yet
    sockets[1]?.drop(); // the server is still down: back off and try again
    vi.advanceTimersByTime(200);
    expect(sockets).toHaveLength(3);
    sockets[2]?.open();
    expect(onReconnect).toHaveBeenCalledTimes(1);
    ws.close();
  });

  it("catches up even when the very first attempt failed (events since the page loaded were missed)", () => {
    vi.useFakeTimers();
    const sockets: FakeSocket[] = [];
    const onReconnect = vi.fn();
    new ReconnectingSocket("ws://x/", () => undefined, {
      initialDelayMs: 10,
      onReconnect,
      factory: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
    });
    sockets[0]?.drop();
    vi.advanceTimersByTime(50);
    sockets[1]?.open();
    expect(onReconnect).toHaveBeenCalledTimes(1);
  });

  it("stops retrying when the server refuses the user (close code 4403)", () => {
    vi.useFakeTimers();
    const sockets: FakeSocket[] = [];
    new ReconnectingSocket("ws://x/", () => undefined, {
      factory: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
    });
    sockets[0]?.drop(4403);
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("builds ws and wss urls from the page's location", () => {
    expect(socketUrl("/ws/cases/3/", { protocol: "http:", host: "localhost:8000" })).toBe("ws://localhost:8000/ws/cases/3/");
    expect(socketUrl("/ws/cases/3/", { protocol: "https:", host: "atrium.example" })).toBe("wss://atrium.example/ws/cases/3/");
  });
});
