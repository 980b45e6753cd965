import type { Output } from '../../cli/context';

/** What the CLI writes to one stream, kept as text (not a terminal: plain progress lines, no bars). */
export class CapturedOutput implements Output {
  text = '';
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}
