/** Cine playback: calls `step` every frame_time_ms with requestAnimationFrame, skipping late frames. */
export class Cine {
  private handle: number | null = null;
  private last = 0;

  constructor(
    private readonly step: () => void,
    public frameTimeMs: number,
    private readonly onState: (playing: boolean) => void = () => undefined,
  ) {}

  get playing(): boolean {
    return this.handle !== null;
  }

  toggle(): void {
    if (this.playing) this.stop();
    else this.start();
  }

  start(): void {
    if (this.handle !== null) return;
    this.last = performance.now();
    const tick = (now: number): void => {
      if (now - this.last >= this.frameTimeMs) {
        this.last = now - ((now - this.last) % this.frameTimeMs);
        this.step();
      }
      this.handle = requestAnimationFrame(tick);
    };
    this.handle = requestAnimationFrame(tick);
    this.onState(true);
  }

  stop(): void {
    if (this.handle === null) return;
    cancelAnimationFrame(this.handle);
    this.handle = null;
    this.onState(false);
  }
}
