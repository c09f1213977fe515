// --rate-limit-bps: one budget shared by every request of a run, in every thread.
//
// The state is a single clock in a SharedArrayBuffer: the time (µs since the Unix
// epoch) at which the link is next free.  Taking n bytes moves that clock on by
// n / rate with a compare-and-swap and sleeps until the moment reserved, so
// concurrent requests on several threads queue behind one another and their sum
// stays at the rate.  Up to BURST_US of idle time may be spent at once, so a link
// that was quiet does not start a request late.  Without SharedArrayBuffer (a
// page that is not cross-origin isolated) the clock is private to the thread.

const BURST_US = 100_000n;

export class RateLimiter {
  readonly state: SharedArrayBuffer | ArrayBuffer;
  private readonly clock: BigInt64Array;

  /** `state` from another thread's limiter shares its budget. */
  constructor(
    readonly bytesPerSecond: number,
    state?: SharedArrayBuffer | ArrayBuffer,
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`rate limit must be positive, not ${bytesPerSecond}`);
    this.state = state ?? (typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(8) : new ArrayBuffer(8));
    this.clock = new BigInt64Array(this.state);
  }

  async take(bytes: number): Promise<void> {
    const cost = BigInt(Math.ceil((bytes * 1e6) / this.bytesPerSecond));
    for (;;) {
      const now = BigInt(Date.now()) * 1000n;
      const free = Atomics.load(this.clock, 0);
      const start = free > now - BURST_US ? free : now - BURST_US;
      if (Atomics.compareExchange(this.clock, 0, free, start + cost) !== free) continue;
      const wait = Number(start + cost - now) / 1000;
      if (wait > 1) await new Promise<void>((r) => setTimeout(r, wait));
      return;
    }
  }
}
