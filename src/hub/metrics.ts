// A small Prometheus text-format registry: counters, histograms and gauges read at scrape time.
type Labels = Record<string, string>;

const render = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");

// Rendering label sets (sort + escaping) is done once per distinct set, not per increment:
// counters are bumped on every request, including each agent sync.
const rendered = new Map<string, string>();
function key(labels: Labels): string {
  let raw = "";
  for (const k in labels) raw += `${k}\u0000${labels[k]}\u0001`;
  let k = rendered.get(raw);
  if (k === undefined) {
    k = render(labels);
    if (rendered.size < 10_000) rendered.set(raw, k); // bounded: label values come from code, not users
  }
  return k;
}

class Counter {
  values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1) {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
}

class Histogram {
  series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  observe(labels: Labels, value: number) {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? "," : "";
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines.join("\n");
  }
}

type GaugeReader = () => Promise<{ labels: Labels; value: number }[]> | { labels: Labels; value: number }[];

export class Metrics {
  private counters = new Map<string, Counter>();
  private histograms = new Map<string, Histogram>();
  private gauges: { name: string; help: string; read: GaugeReader }[] = [];

  counter(name: string, help: string): Counter {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = new Counter(name, help)));
    return c;
  }

  histogram(name: string, help: string, buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]): Histogram {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = new Histogram(name, help, buckets)));
    return h;
  }

  /** Registers a gauge whose values are read when /metrics is scraped. */
  gauge(name: string, help: string, read: GaugeReader) {
    this.gauges.push({ name, help, read });
  }

  async render(): Promise<string> {
    const parts = [...this.counters.values()].map((c) => c.render());
    parts.push(...[...this.histograms.values()].map((h) => h.render()));
    for (const g of this.gauges) {
      const lines = [`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`];
      for (const { labels, value } of await g.read()) {
        const k = key(labels);
        lines.push(`${g.name}${k ? `{${k}}` : ""} ${value}`);
      }
      parts.push(lines.join("\n"));
    }
    return parts.join("\n") + "\n";
  }
}
