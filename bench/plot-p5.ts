/**
 * `node dist/bench/plot-p5.js [results.json] [--every S]`: P5's timeline as text, one line per S seconds
 * (default 5) per run: the fleet rate in the shared row as a bar (`|`, one per 1/s up to 1.5 × the
 * ceiling), the chats made in that second as `*` on the same scale, and the 429s since the line before.
 * What bench/README.md shows under P5; drawn from the `p5` runs of a results file, nothing measured here.
 */
import { readFileSync } from 'node:fs';
import type { P5Result, RateSample } from './p5-fleet';

/** The lines of one run's plot, sampling `rateTimeline` every `every` seconds. */
export function plotRun(run: Pick<P5Result, 'ceiling' | 'hosts' | 'rateTimeline'>, every = 5): string[] {
  const top = Math.round(run.ceiling * 1.5);
  const lines = [
    `${run.hosts} host${run.hosts === 1 ? '' : 's'}, ceiling ${run.ceiling}/s: | = fleet rate in throttle/graph (0–${top}/s), * = chats made per second`,
  ];
  const samples = run.rateTimeline;
  const end = samples[samples.length - 1]?.t ?? -1;
  let previous: RateSample | undefined;
  for (let t = 0; t <= end; t += every) {
    const at = samples.filter((s) => s.t <= t).pop();
    if (!at) continue;
    const before = samples.filter((s) => s.t <= t - 1).pop();
    const perSecond = before ? Math.max(0, (at.chats - before.chats) / Math.max(0.001, at.t - before.t)) : 0;
    const rate = at.rate ?? 0;
    const bar = rate > top ? '' : '|'.repeat(Math.round(rate));
    const cells = bar.padEnd(Math.round(Math.min(perSecond, top)), ' ').split('');
    cells[Math.min(Math.round(perSecond), top)] = '*';
    const throttled = at.throttled - (previous?.throttled ?? 0);
    const label =
      at.rate === null ? '   —' : rate > top ? String(Math.round(rate)).padStart(4) : rate.toFixed(1).padStart(4);
    lines.push(
      `${String(t).padStart(4)} s ${label} ${cells.join('')}${throttled > 0 ? `   429 × ${throttled}` : ''}`.trimEnd(),
    );
    previous = at;
  }
  return lines;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const everyAt = args.indexOf('--every');
  const every = everyAt >= 0 ? Number(args[everyAt + 1]) : 5;
  const file = args.find((a, i) => !a.startsWith('--') && i !== everyAt + 1) ?? 'bench/results.json';
  const runs = (JSON.parse(readFileSync(file, 'utf8')) as { results: { p5?: P5Result[] } }).results.p5 ?? [];
  if (runs.length === 0) console.error(`${file} has no P5 runs`);
  for (const run of runs) console.log(`${plotRun(run, every).join('\n')}\n`);
}
