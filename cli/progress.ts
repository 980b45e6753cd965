/** Progress for long commands: a cli-progress bar on a terminal, plain periodic lines otherwise (logs, CI). */
import { SingleBar } from 'cli-progress';
import type { Output } from './context';

export interface ProgressView {
  update(value: number, status: string): void;
  /** Ends the bar (the line stays) so the summary starts on a new line. */
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  now: () => Date;
  /** Plain mode: at most one line per this many ms, the first and last always (default 5 s). */
  plainEveryMs?: number;
}

export function startProgress(output: Output, options: ProgressOptions): ProgressView {
  if (output.isTTY === true) return barProgress(output, options);
  return plainProgress(output, options);
}

function barProgress(output: Output, options: ProgressOptions): ProgressView {
  const bar = new SingleBar({
    format: `${options.label} [{bar}] {value}/{total} {status}`,
    stream: output as NodeJS.WritableStream,
    // A hidden cursor would stay hidden if the run is interrupted with Ctrl+C.
    hideCursor: false,
    barsize: 30,
  });
  bar.start(options.total, 0, { status: '' });
  return {
    update: (value, status) => bar.update(value, { status }),
    stop: () => bar.stop(),
  };
}

function plainProgress(output: Output, options: ProgressOptions): ProgressView {
  const every = options.plainEveryMs ?? 5000;
  let lastAt: number | undefined;
  let lastLine = '';
  let pending: string | undefined;
  const write = (line: string): void => {
    output.write(`${line}\n`);
    lastLine = line;
    lastAt = options.now().getTime();
    pending = undefined;
  };
  return {
    update(value, status) {
      const line = `${options.label}: ${value}/${options.total}${status ? ` ${status}` : ''}`;
      if (line === lastLine) return;
      const due = lastAt === undefined || options.now().getTime() - lastAt >= every || value >= options.total;
      if (due) write(line);
      else pending = line;
    },
    stop() {
      if (pending !== undefined) write(pending);
    },
  };
}
