import { plotRun } from '../../bench/plot-p5';

describe('P5 timeline plot', () => {
  it('draws the fleet rate as a bar, the chats of that second as a star on the same scale, and new 429s', () => {
    // Prepare: a ceiling of 10/s (scale 0–15), samples each second.
    const sample = (t: number, rate: number | null, chats: number, throttled: number) => ({
      t,
      rate,
      paused: false,
      liveInstances: 1,
      chats,
      throttled,
    });
    const run = {
      ceiling: 10,
      hosts: 3,
      rateTimeline: [
        sample(0, null, 0, 0),
        sample(1, 1000, 5, 0),
        sample(2, 8, 13, 2),
        sample(3, 8.4, 21, 2),
        sample(4, 9, 30, 3),
      ],
    };

    // Act
    const lines = plotRun(run, 1);

    // Assess
    expect(lines).toEqual([
      '3 hosts, ceiling 10/s: | = fleet rate in throttle/graph (0–15/s), * = chats made per second',
      '   0 s    — *',
      '   1 s 1000      *',
      '   2 s  8.0 ||||||||*   429 × 2',
      '   3 s  8.4 ||||||||*',
      '   4 s  9.0 |||||||||*   429 × 1',
    ]);
  });
});
