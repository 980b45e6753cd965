import {
  duplicateCount,
  formatMarkdownTable,
  formatTable,
  formatValue,
  judge,
  median,
  parseArgs,
  percentile,
  ratio,
  share,
  sustainedRate,
} from '../../bench/stats';

describe('bench statistics', () => {
  it('median of odd and even counts, NaN when empty, input untouched', () => {
    // Prepare
    const values = [5, 1, 3, 2];

    // Act + Assess
    expect(median([3, 1, 2])).toBe(2);
    expect(median(values)).toBe(2.5);
    expect(values).toEqual([5, 1, 3, 2]);
    expect(median([])).toBeNaN();
  });

  it('percentile by nearest rank', () => {
    const values = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(percentile(values, 90)).toBe(9);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
  });

  it('ratio is NaN rather than Infinity when the divisor is 0 or missing', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(Number.NaN, 1)).toBeNaN();
  });

  it('share is 0 when nothing happened', () => {
    expect(share(1, 100)).toBe(0.01);
    expect(share(0, 0)).toBe(0);
  });
});

describe('sustainedRate', () => {
  it('counts the events beyond the burst over the span from the first to the last', () => {
    // Prepare: a burst of 3 at 0 ms, then one event every 100 ms from 1000 ms to 2000 ms.
    const times = [0, 0, 0, ...Array.from({ length: 11 }, (_, i) => 1000 + i * 100)];

    // Act
    const rate = sustainedRate(times, 3);

    // Assess: 11 events beyond the burst, over 2 s
    expect(rate).toBeCloseTo(5.5);
  });

  it('stays at or under the ceiling for any run a full bucket allows', () => {
    // A bucket of 10 tokens refilled at 10/s, drained greedily: 10 at once, then one every 100 ms.
    const times = [...Array.from({ length: 10 }, () => 0), ...Array.from({ length: 50 }, (_, i) => 100 * (i + 1))];
    expect(sustainedRate(times, 10)).toBeLessThanOrEqual(10);
    expect(sustainedRate(times, 10)).toBeCloseTo(10);
  });

  it('does not flatter a run that sped up only at its end', () => {
    // 100 events over 99 s, then 50 in the last second: the whole run counts.
    const times = [
      ...Array.from({ length: 100 }, (_, i) => i * 1000),
      ...Array.from({ length: 50 }, (_, i) => 99_000 + i * 20),
    ];
    expect(sustainedRate(times, 1)).toBeCloseTo(149 / 99.98, 1);
  });

  it('is NaN when no event lies beyond the burst, or no time passed', () => {
    expect(sustainedRate([1, 2, 3], 3)).toBeNaN();
    expect(sustainedRate([], 0)).toBeNaN();
    expect(sustainedRate([5, 5], 1)).toBeNaN();
  });
});

describe('duplicateCount', () => {
  it('counts chats beyond the first per topic and ignores chats without a topic', () => {
    expect(duplicateCount(['a', 'b', 'a', 'a', null, null, 'c'])).toBe(2);
    expect(duplicateCount([])).toBe(0);
  });
});

describe('goals', () => {
  it('judges >=, <= and == and never passes a value that is not a number', () => {
    expect(judge({ id: 'a', name: 'a', value: 0.96, comparison: '>=', target: 0.95 }).pass).toBe(true);
    expect(judge({ id: 'b', name: 'b', value: 1.6, comparison: '<=', target: 1.5 }).pass).toBe(false);
    expect(judge({ id: 'c', name: 'c', value: 0, comparison: '==', target: 0 }).pass).toBe(true);
    expect(judge({ id: 'd', name: 'd', value: Number.NaN, comparison: '<=', target: 1 }).pass).toBe(false);
  });

  it('formats values by unit', () => {
    expect(formatValue(0.0123, 'percent')).toBe('1.23%');
    expect(formatValue(1.234)).toBe('1.23×');
    expect(formatValue(12.34)).toBe('12.3×');
    expect(formatValue(3, 'count')).toBe('3');
    expect(formatValue(2.5, 'ms')).toBe('2.50 ms');
    expect(formatValue(Number.NaN)).toBe('n/a');
  });
});

describe('tables', () => {
  it('pads columns to the widest cell under a rule', () => {
    // Act
    const text = formatTable(
      ['a', 'bb'],
      [
        ['ccc', 'd'],
        ['e', ''],
      ],
    );

    // Assess
    expect(text.split('\n')).toEqual(['a    bb', '---  --', 'ccc  d', 'e']);
  });

  it('writes markdown with pipes in cells escaped', () => {
    expect(formatMarkdownTable(['x', 'y'], [['1|2', '3']])).toBe('| x | y |\n| --- | --- |\n| 1\\|2 | 3 |');
  });
});

describe('parseArgs', () => {
  it('reads flags, --name value and --name=value', () => {
    const args = parseArgs(['--quick', '--only', 'p1,p2', '--history=5000', '--last']);
    expect(args.get('quick')).toBe(true);
    expect(args.get('only')).toBe('p1,p2');
    expect(args.get('history')).toBe('5000');
    expect(args.get('last')).toBe(true);
  });
});
