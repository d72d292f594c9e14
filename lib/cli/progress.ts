/**
 * Progress while the CLI waits: a bar redrawn in place when stdout is a terminal
 * (cli-progress), plain lines when it is not (a log file, CI, a pipe: one line when the
 * status changes and at most one every few seconds otherwise), nothing with --json.
 */
import cliProgress from "cli-progress";
import { bytes, count, type Output } from "./output.js";
import type { JobStatus, Progress } from "./responses.js";

/** How often a plain line repeats while nothing but the numbers changes. */
const PLAIN_EVERY_MS = 2_000;

export interface ProgressDisplay<T> {
  update(value: T): void;
  /** Ends the display: the bar's line is finished, so what follows starts on its own line. */
  stop(): void;
}

const silent = <T>(): ProgressDisplay<T> => ({ update: () => undefined, stop: () => undefined });

function newBar(out: Output, format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    { format, stream: out.streams.stdout, hideCursor: true, barsize: 25, fps: 5, clearOnComplete: false, linewrap: false },
    cliProgress.Presets.shades_classic,
  );
}

/** A job's progress as GET /api/imports/:id, /api/reconcile/:id and /api/sync/runs/:id show it. */
export function jobProgress<T extends { status: JobStatus; progress: Progress }>(
  out: Output,
  label: string,
  unit: string,
  options: {
    /**
     * The total to show, where the job's rows have none: a sync run's work is the items
     * its upstream counted at the start (null while not counted), not rows it planned.
     */
    totalOf?: (value: T) => number | null;
  } = {},
): ProgressDisplay<T> {
  if (out.json) return silent();
  const totalOf = (value: T): number | null => {
    if (options.totalOf) return options.totalOf(value);
    const { status, progress } = value;
    // Until planning has counted the rows, a total of 0 means "not known yet".
    const planned = !(progress.rows.total === 0 && (status === "queued" || status === "planning"));
    return progress.total_known && planned ? progress.rows.total : null;
  };
  const describe = (value: T) => {
    const { status, progress } = value;
    const { rows, rate_per_s: rate, eta_s: eta, stalled_for_s: stalled } = progress;
    const total = totalOf(value);
    const finished = rows.done + rows.failed;
    const percent = total === null ? null : total === 0 ? 100 : Math.min(100, (100 * finished) / total);
    return {
      percent: percent === null ? "    ?%" : `${percent.toFixed(1).padStart(5)}%`,
      counts: `${count(finished)}/${total === null ? "?" : count(total)} ${unit}`,
      rate: rate ? `${count(Math.round(rate))} ${unit}/s` : "",
      when: stalled !== null ? `stalled for ${stalled} s` : eta !== null ? `ETA ${eta} s` : "",
      status,
    };
  };

  if (out.interactive) {
    const bar = newBar(out, `${label} [{bar}] {percent}  {counts}  {rate}  {when}  {status}`);
    let started = false;
    return {
      update(view) {
        // A total not known yet draws an empty bar; cli-progress needs a total above 0.
        const known = totalOf(view);
        const total = known === null ? 1 : Math.max(known, 1);
        const finished = view.progress.rows.done + view.progress.rows.failed;
        const value = known === null ? 0 : known === 0 ? total : Math.min(total, finished);
        const payload = describe(view);
        if (!started) {
          bar.start(total, value, payload);
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(value, payload);
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }

  let lastStatus: JobStatus | null = null;
  let lastLineAt = 0;
  return {
    update(view) {
      const { status } = view;
      if (status === lastStatus && Date.now() - lastLineAt < PLAIN_EVERY_MS) return;
      const d = describe(view);
      out.line([label, d.status, d.percent.trim(), d.counts, d.rate, d.when].filter((part) => part !== "").join("  "));
      lastStatus = status;
      lastLineAt = Date.now();
    },
    stop: () => undefined,
  };
}

export interface UploadDisplay {
  /** Bytes of file `index` sent so far. */
  progress(index: number, loaded: number): void;
  done(index: number): void;
  stop(): void;
}

/** The upload of `files`, together: one bar of all their bytes, or a line per file. */
export function uploadProgress(out: Output, files: ReadonlyArray<{ name: string; size: number }>): UploadDisplay {
  if (out.json) return { progress: () => undefined, done: () => undefined, stop: () => undefined };
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const loaded = files.map(() => 0);
  let finished = 0;
  const sent = () => loaded.reduce((sum, n) => sum + n, 0);

  if (out.interactive) {
    const bar = newBar(out, "upload [{bar}] {percentage}%  {sent} of {total_bytes}  {files}");
    // cli-progress needs a total above 0: files that are all empty count as one byte.
    const barTotal = Math.max(total, 1);
    const draw = () =>
      bar.update(finished === files.length ? barTotal : Math.min(sent(), barTotal), {
        sent: bytes(sent()),
        total_bytes: bytes(total),
        files: `${finished}/${files.length} files`,
      });
    bar.start(barTotal, 0, { sent: bytes(0), total_bytes: bytes(total), files: `0/${files.length} files` });
    return {
      progress(index, n) {
        loaded[index] = n;
        draw();
      },
      done(index) {
        loaded[index] = files[index]?.size ?? 0;
        finished += 1;
        draw();
      },
      stop: () => bar.stop(),
    };
  }

  let lastLineAt = Date.now();
  return {
    progress(index, n) {
      loaded[index] = n;
      if (Date.now() - lastLineAt < PLAIN_EVERY_MS) return;
      const file = files[index];
      if (file && file.size > 0) out.line(`uploading ${file.name}  ${((100 * n) / file.size).toFixed(0)}%  ${bytes(n)} of ${bytes(file.size)}`);
      lastLineAt = Date.now();
    },
    done(index) {
      finished += 1;
      const file = files[index];
      if (file) out.line(`uploaded ${file.name} (${bytes(file.size)})  ${finished}/${files.length} files`);
      lastLineAt = Date.now();
    },
    stop: () => undefined,
  };
}
