/**
 * Where a command's output goes: its result to stdout (JSON alone with
 * --json), notes and progress to stderr whenever stdout carries JSON.
 */
export class Output {
  constructor(
    readonly json: boolean,
    readonly stdout: NodeJS.WriteStream = process.stdout,
    readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  /** The command's result: `data` as JSON with --json, else the human text. */
  result(data: unknown, human: () => string): void {
    this.stdout.write(this.json ? `${JSON.stringify(data, null, 2)}\n` : `${human().replace(/\n+$/, '')}\n`);
  }

  /** A line for the person watching (what is happening, what to do next): never mixed into JSON. */
  note(text: string): void {
    (this.json ? this.stderr : this.stdout).write(`${text}\n`);
  }

  /** The progress display's stream: stdout unless it carries JSON. */
  get progress(): NodeJS.WriteStream {
    return this.json ? this.stderr : this.stdout;
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Columns padded to their widest cell; the last one is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** An object as indented `key: value` lines (nested objects indented, arrays of scalars joined). */
export function describe(value: unknown, indent = ''): string {
  if (value === null || typeof value !== 'object') return `${indent}${String(value)}`;
  const lines: string[] = [];
  for (const [key, field] of Object.entries(value)) {
    // Nothing to show (undefined, or an empty value such as the MAC of an AEAD cipher): no line.
    if (field === undefined || field === '') continue;
    if (Array.isArray(field) && field.every((f) => f === null || typeof f !== 'object')) {
      lines.push(`${indent}${key}: ${field.join(', ')}`);
    } else if (Array.isArray(field)) {
      lines.push(`${indent}${key}:`);
      for (const item of field) lines.push(`${indent}  - ${describe(item, `${indent}    `).trimStart()}`);
    } else if (field !== null && typeof field === 'object') {
      lines.push(`${indent}${key}:`, describe(field, `${indent}  `));
    } else {
      lines.push(`${indent}${key}: ${String(field)}`);
    }
  }
  return lines.join('\n');
}
