// A progress bar on stderr for long CLI work; a plain line per update when stderr is not a terminal.

export interface Progress {
  update(done: number): void;
  done(total: number): void;
}

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  const width = 30;
  const render = (done: number, final: boolean) => {
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(ratio * width);
    const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${(ratio * 100).toFixed(0)}%`;
    if (tty) stream.write(`\r${text}${final ? '\n' : ''}`);
    else if (final || (done < total && done % Math.max(1, Math.floor(total / 4)) < 5_000)) stream.write(`${text}\n`);
  };
  return { update: (done) => render(done, false), done: (t) => render(t, true) };
}
