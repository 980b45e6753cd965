import { formatDuration, parseDuration, parseSince } from '../../cli/duration';

describe('parseDuration', () => {
  it.each([
    ['1h', 3_600_000],
    ['30m', 1_800_000],
    ['2s', 2000],
    ['500ms', 500],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    [' 10M ', 600_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 'h', '1 h', '1w', '-1h', '1h-', 'soon'])('refuses %p', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('parseSince', () => {
  const now = new Date('2026-11-24T12:00:00Z');

  it('reads a duration back from now', () => {
    expect(parseSince('1h', now)?.toISOString()).toBe('2026-11-24T11:00:00.000Z');
  });

  it('reads an ISO time', () => {
    expect(parseSince('2026-11-01T08:00:00+01:00', now)?.toISOString()).toBe('2026-11-01T07:00:00.000Z');
    expect(parseSince('2026-11-01', now)?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });

  it('refuses what Date.parse would guess at', () => {
    expect(parseSince('May 1', now)).toBeUndefined();
    expect(parseSince('5', now)).toBeUndefined();
    expect(parseSince('2026-13-01', now)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [250, '250ms'],
    [2000, '2s'],
    [90_061_000, '1d1h1m1s'],
    [600_000, '10m'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
