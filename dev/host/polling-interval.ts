/**
 * The queue listener's delay between empty polls: the WebJobs RandomizedExponentialBackoffStrategy.
 * Starts at the minimum, roughly doubles (±20 %) per empty poll up to the maximum, resets when messages arrive.
 */
export class PollingInterval {
  static readonly randomizationFactor = 0.2;

  #currentMs = 0;
  #exponent = 0;

  constructor(
    private readonly minimumMs: number,
    private readonly maximumMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (minimumMs < 0 || maximumMs < minimumMs) throw new Error('polling interval: need 0 <= minimum <= maximum');
  }

  /** `foundMessages`: the poll since the last delay found something. */
  next(foundMessages: boolean): number {
    if (foundMessages) {
      this.#currentMs = this.minimumMs;
      this.#exponent = 1;
    } else if (this.#currentMs !== this.maximumMs) {
      let backoff = this.minimumMs;
      if (this.#exponent > 0) {
        const factor =
          1 - PollingInterval.randomizationFactor + this.random() * 2 * PollingInterval.randomizationFactor;
        backoff += factor * 2 ** (this.#exponent - 1) * this.minimumMs;
      }
      if (backoff < this.maximumMs) {
        this.#currentMs = backoff;
        this.#exponent++;
      } else {
        this.#currentMs = this.maximumMs;
      }
    }
    return this.#currentMs;
  }
}
