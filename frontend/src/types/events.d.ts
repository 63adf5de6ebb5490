// The browser build of Node's `events` module (npm package "events"), which ships no types.
declare module "events" {
  export class EventEmitter {
    on(event: string | symbol, listener: (...args: unknown[]) => void): this;
    emit(event: string | symbol, ...args: unknown[]): boolean;
  }
  export default EventEmitter;
}
