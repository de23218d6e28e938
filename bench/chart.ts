export interface Series {
  readonly name: string;
  readonly color: string;
  /** Latencies in microseconds. */
  readonly samples: readonly number[];
}

/**
 * An SVG chart of latency distributions: one cumulative-distribution line per series, on a
 * log-scaled time axis, for each panel (e.g. "one connection", "new connection per request").
 */
export function latencyChart(panels: ReadonlyArray<{ title: string; series: readonly Series[] }>): string {
  const width = 760;
  const panelHeight = 260;
  const margin = { left: 60, right: 20, top: 36, bottom: 44 };
  const parts: string[] = [];
  panels.forEach((panel, index) => {
    const top = index * panelHeight;
    const all = panel.series.flatMap((s) => s.samples).filter((v) => v > 0);
    const low = Math.max(1, quantile(all, 0.001) * 0.8);
    const high = quantile(all, 0.999) * 1.2;
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = panelHeight - margin.top - margin.bottom;
    const x = (v: number) => margin.left + ((Math.log(v) - Math.log(low)) / (Math.log(high) - Math.log(low))) * plotWidth;
    const y = (p: number) => top + margin.top + (1 - p) * plotHeight;
    parts.push(`<text x="${margin.left}" y="${top + 22}" font-weight="bold">${escape(panel.title)}: cumulative share of requests by latency</text>`);
    parts.push(`<rect x="${margin.left}" y="${top + margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`);
    for (const tick of ticks(low, high)) {
      parts.push(`<line x1="${x(tick)}" x2="${x(tick)}" y1="${y(0)}" y2="${y(1)}" stroke="#eee"/>`);
      parts.push(`<text x="${x(tick)}" y="${y(0) + 16}" font-size="11" text-anchor="middle">${tick >= 1000 ? `${tick / 1000} ms` : `${tick} µs`}</text>`);
    }
    for (const p of [0, 0.5, 1]) parts.push(`<text x="${margin.left - 6}" y="${y(p) + 4}" font-size="11" text-anchor="end">${p * 100}%</text>`);
    panel.series.forEach((series, i) => {
      const sorted = [...series.samples].sort((a, b) => a - b);
      const step = Math.max(1, Math.floor(sorted.length / 400));
      const points: string[] = [];
      for (let k = 0; k < sorted.length; k += step) points.push(`${x(Math.max(low, sorted[k] as number)).toFixed(1)},${y((k + 1) / sorted.length).toFixed(1)}`);
      parts.push(`<polyline fill="none" stroke="${series.color}" stroke-width="2" points="${points.join(" ")}"/>`);
      parts.push(`<rect x="${width - margin.right - 190}" y="${top + margin.top + 10 + i * 18}" width="12" height="4" fill="${series.color}"/>`);
      parts.push(`<text x="${width - margin.right - 172}" y="${top + margin.top + 16 + i * 18}" font-size="12">${escape(series.name)}</text>`);
    });
  });
  const height = panels.length * panelHeight;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 1;
}

function ticks(low: number, high: number): number[] {
  const result: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(low)); decade <= high; decade *= 10) {
    for (const m of [1, 2, 5]) if (decade * m >= low && decade * m <= high) result.push(decade * m);
  }
  return result;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

