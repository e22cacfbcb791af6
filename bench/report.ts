/** The bench's output: one table row per figure, then a summary line. */

export interface Row {
  section: string;
  figure: string;
  /** The broker's value, formatted. */
  value: string;
  /** What it is compared against (the bare server, `node -e ""`, …), formatted; "" when none. */
  baseline: string;
  /** value ÷ baseline (or the figure itself when there is no baseline), formatted. */
  ratio: string;
  target: string;
  /** "ok", "MISSED" or "" when the figure has no target. */
  verdict: "ok" | "MISSED" | "";
}

const COLUMNS: { key: keyof Row; title: string }[] = [
  { key: "section", title: "section" },
  { key: "figure", title: "figure" },
  { key: "value", title: "broker" },
  { key: "baseline", title: "baseline" },
  { key: "ratio", title: "ratio" },
  { key: "target", title: "target" },
  { key: "verdict", title: "" },
];

export function formatTable(rows: readonly Row[]): string {
  const widths = COLUMNS.map(({ key, title }) => Math.max(title.length, ...rows.map((row) => row[key].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [
    line(COLUMNS.map((c) => c.title)),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((row) => line(COLUMNS.map((c) => row[c.key]))),
  ].join("\n");
}

export function verdict(ok: boolean): "ok" | "MISSED" {
  return ok ? "ok" : "MISSED";
}

export const fixed = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
export const perSecond = (value: number): string => `${Math.round(value).toLocaleString("en-US")}/s`;
export const ms = (value: number): string => (value < 10 ? `${value.toFixed(2)} ms` : `${Math.round(value)} ms`);
export const mebibytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
