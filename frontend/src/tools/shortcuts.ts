/** Keyboard shortcuts: one registry feeds both the keydown dispatcher and the help panel. */

export interface Shortcut {
  /** e.g. "ctrl+shift+z", "shift+c", "1", "?", "space", "arrowleft". */
  keys: string;
  description: string;
  run: (event: KeyboardEvent) => void;
}

interface Parsed {
  key: string;
  ctrl: boolean;
  alt: boolean;
  /** null: either (symbols such as "?" or "[" depend on the layout's shift). */
  shift: boolean | null;
}

const NAMED: Record<string, string> = { space: " ", esc: "escape", del: "delete" };

export function parseKeys(spec: string): Parsed {
  const parts = spec.toLowerCase().split("+");
  const raw = parts[parts.length - 1] ?? "";
  const key = NAMED[raw] ?? raw;
  const mods = new Set(parts.slice(0, -1));
  const strictShift = /^[a-z0-9]$/.test(key) || key.length > 1;
  return {
    key,
    ctrl: mods.has("ctrl"),
    alt: mods.has("alt"),
    shift: strictShift ? mods.has("shift") : null,
  };
}

/** Does a keydown event match a shortcut spec? Digits match by physical key too (shift+1 gives "!"). */
export function matches(spec: string, event: Pick<KeyboardEvent, "key" | "code" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey">): boolean {
  const p = parseKeys(spec);
  let key = event.key.toLowerCase();
  if (/^Digit\d$/.test(event.code) && /^[0-9]$/.test(p.key)) key = event.code.slice(5);
  if (key !== p.key) return false;
  if ((event.ctrlKey || event.metaKey) !== p.ctrl) return false;
  if (event.altKey !== p.alt) return false;
  if (p.shift !== null && event.shiftKey !== p.shift) return false;
  return true;
}

/** Human label for a spec: "Ctrl+Shift+Z", "Space". */
export function describeKeys(spec: string): string {
  return spec
    .split("+")
    .map((part) => {
      if (part.length === 1) return part.toUpperCase();
      if (part.startsWith("arrow")) return `${part.slice(5, 6).toUpperCase()}${part.slice(6)} arrow`;
      return part.charAt(0).toUpperCase() + part.slice(1);
    })
    .join("+");
}

export class ShortcutMap {
  readonly shortcuts: Shortcut[] = [];
  private handler = (event: KeyboardEvent): void => {
    this.dispatch(event);
  };

  add(keys: string, description: string, run: (event: KeyboardEvent) => void): this {
    this.shortcuts.push({ keys, description, run });
    return this;
  }

  dispatch(event: KeyboardEvent): boolean {
    const target = event.target as HTMLElement | null;
    if (target !== null && typeof target.closest === "function" && target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key !== "Escape") return false;
    }
    for (const shortcut of this.shortcuts) {
      if (matches(shortcut.keys, event)) {
        event.preventDefault();
        shortcut.run(event);
        return true;
      }
    }
    return false;
  }

  attach(target: Document | HTMLElement = document): () => void {
    target.addEventListener("keydown", this.handler as EventListener);
    return () => target.removeEventListener("keydown", this.handler as EventListener);
  }
}
