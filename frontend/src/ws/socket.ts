/** A websocket that reconnects by itself with exponential backoff and hands parsed JSON to a callback. */

export interface SocketLike {
  onopen: ((ev: Event) => unknown) | null;
  onclose: ((ev: CloseEvent) => unknown) | null;
  onmessage: ((ev: MessageEvent) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  close(code?: number): void;
}

export type SocketFactory = (url: string) => SocketLike;

export interface ReconnectOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  factory?: SocketFactory;
  onState?: (state: "connecting" | "open" | "closed") => void;
  /**
   * Called when a socket opens after an earlier attempt was dropped or failed: events sent in between
   * were missed, so the page re-fetches what the events would have told it.
   */
  onReconnect?: () => void;
}

/** Close codes after which retrying cannot help (the server refused us). */
const FATAL_CODES = new Set([4401, 4403]);

export class ReconnectingSocket<M = unknown> {
  private socket: SocketLike | null = null;
  private delay: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly factory: SocketFactory;
  attempts = 0;

  constructor(
    readonly url: string,
    private readonly onMessage: (message: M) => void,
    private readonly options: ReconnectOptions = {},
  ) {
    this.initialDelay = options.initialDelayMs ?? 500;
    this.maxDelay = options.maxDelayMs ?? 15000;
    this.delay = this.initialDelay;
    this.factory = options.factory ?? ((u) => new WebSocket(u));
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    this.attempts += 1;
    this.options.onState?.("connecting");
    let socket: SocketLike;
    try {
      socket = this.factory(this.url);
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.delay = this.initialDelay;
      this.options.onState?.("open");
      if (this.attempts > 1) this.options.onReconnect?.();
    };
    socket.onmessage = (ev: MessageEvent) => {
      let parsed: M;
      try {
        parsed = JSON.parse(String(ev.data)) as M;
      } catch {
        return;
      }
      this.onMessage(parsed);
    };
    socket.onerror = () => undefined;
    socket.onclose = (ev: CloseEvent) => {
      this.socket = null;
      this.options.onState?.("closed");
      if (!FATAL_CODES.has(ev.code)) this.retry();
    };
  }

  private retry(): void {
    if (this.stopped || this.timer !== null) return;
    // Jitter keeps a room of tabs from reconnecting in lock-step after a server restart.
    const wait = this.delay * (0.8 + 0.4 * Math.random());
    this.delay = Math.min(this.delay * 2, this.maxDelay);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, wait);
  }

  close(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }
}

/** ws:// or wss:// URL for a path like "/ws/cases/3/" on the page's host. */
export function socketUrl(path: string, loc: { protocol: string; host: string } = location): string {
  if (/^wss?:\/\//.test(path)) return path;
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}${path.startsWith("/") ? "" : "/"}${path}`;
}
