/** A tiny element builder: h("button", { class: "x", "data-testid": "y", onclick }, "text"). */
type Attr = string | number | boolean | null | undefined | ((event: Event) => void);
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  return el;
}

/** A short message at the bottom of the page that fades by itself. */
export function toast(message: string, kind: "info" | "warn" | "error" = "info"): void {
  let host = document.querySelector<HTMLElement>(".atrium-toasts");
  if (host === null) {
    host = h("div", { class: "atrium-toasts", role: "status", "aria-live": "polite" });
    document.body.appendChild(host);
  }
  const item = h("div", { class: `atrium-toast ${kind}`, "data-testid": "toast" }, message);
  host.appendChild(item);
  setTimeout(() => item.remove(), kind === "info" ? 2500 : 6000);
}
