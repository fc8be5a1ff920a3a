/**
 * Just enough of a terminal to turn a recording into the text a reader would see: printable
 * characters (wrapping at the width), CR, LF, backspace, tab, and the CSI sequences the CLI's
 * progress display and readline use (cursor up/down/left/right/column, erase in line and display).
 * Colours and modes are dropped. Rows are never scrolled away: the whole session stays readable.
 */
export class TextTerminal {
  private rows: string[][] = [[]];
  private row = 0;
  private col = 0;
  private pending = '';

  constructor(private readonly cols: number) {}

  write(data: string): void {
    const text = this.pending + data;
    this.pending = '';
    let i = 0;
    while (i < text.length) {
      const ch = text[i] as string;
      if (ch === '\x1b') {
        const consumed = this.escape(text, i);
        if (consumed === 0) {
          // An escape sequence cut between two writes: keep it for the next.
          this.pending = text.slice(i);
          break;
        }
        i += consumed;
        continue;
      }
      if (ch === '\r') this.col = 0;
      else if (ch === '\n') this.moveTo(this.row + 1);
      else if (ch === '\b') this.col = Math.max(0, this.col - 1);
      else if (ch === '\t') this.col = Math.min(this.cols - 1, (Math.floor(this.col / 8) + 1) * 8);
      else if (ch >= ' ' && ch !== '\x7f') this.put(ch);
      i++;
    }
  }

  /** Every row, trailing blanks removed. */
  lines(): string[] {
    const out = this.rows.map((r) => r.join('').replace(/\s+$/, ''));
    while (out.length > 0 && out[out.length - 1] === '') out.pop();
    return out;
  }

  private line(): string[] {
    while (this.rows.length <= this.row) this.rows.push([]);
    return this.rows[this.row] as string[];
  }

  private moveTo(row: number): void {
    this.row = Math.max(0, row);
    this.line();
  }

  private put(ch: string): void {
    if (this.col >= this.cols) {
      this.moveTo(this.row + 1);
      this.col = 0;
    }
    const line = this.line();
    while (line.length < this.col) line.push(' ');
    line[this.col] = ch;
    this.col++;
  }

  /** Applies the escape sequence at `i`; returns its length, or 0 when it is not complete yet. */
  private escape(text: string, i: number): number {
    const next = text[i + 1];
    if (next === undefined) return 0;
    if (next === ']') {
      // OSC (a title): up to BEL or ST, ignored.
      const bel = text.indexOf('\x07', i);
      const st = text.indexOf('\x1b\\', i);
      const end = [bel < 0 ? -1 : bel + 1, st < 0 ? -1 : st + 2].filter((n) => n > 0);
      return end.length > 0 ? Math.min(...end) - i : 0;
    }
    if (next !== '[') return 2;
    const match = /^([?>=]?)([0-9;]*)([@-~])/.exec(text.slice(i + 2));
    if (!match) return text.length - i > 32 ? 2 : 0;
    const [sequence, privateMark, params, final] = match as unknown as [string, string, string, string];
    const whole = `\x1b[${sequence}`;
    if (privateMark) return whole.length;
    const n = (fallback: number) => {
      const value = Number.parseInt(params.split(';')[0] ?? '', 10);
      return Number.isNaN(value) ? fallback : value;
    };
    const line = this.line();
    switch (final) {
      case 'A':
        this.moveTo(this.row - Math.max(1, n(1)));
        break;
      case 'B':
        this.moveTo(this.row + Math.max(1, n(1)));
        break;
      case 'C':
        this.col = Math.min(this.cols - 1, this.col + Math.max(1, n(1)));
        break;
      case 'D':
        this.col = Math.max(0, this.col - Math.max(1, n(1)));
        break;
      case 'G':
        this.col = Math.min(this.cols - 1, Math.max(0, n(1) - 1));
        break;
      case 'K': {
        const mode = n(0);
        if (mode === 0) line.splice(this.col);
        else if (mode === 1) for (let c = 0; c <= this.col && c < line.length; c++) line[c] = ' ';
        else line.splice(0);
        break;
      }
      case 'J': {
        const mode = n(0);
        if (mode === 0) {
          line.splice(this.col);
          this.rows.splice(this.row + 1);
        } else if (mode === 2 || mode === 3) {
          this.rows = [[]];
          this.row = 0;
          this.col = 0;
        }
        break;
      }
      default:
        // SGR (colours) and anything else: no effect on the text.
        break;
    }
    return whole.length;
  }
}
