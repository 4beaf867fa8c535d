/** A uPlot time chart that redraws when its data changes and follows its container's width. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  colour: string;
  values: Array<number | null>;
  /** Draw every value as a dot too (sparse series: a lone minute has no line). */
  points?: boolean;
}

export function TimeChart({ title, times, series, unit }: { title: string; times: number[]; series: Series[]; unit: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const width = () => Math.max(280, element.clientWidth);
    const plot = new uPlot({
      width: width(),
      height: 220,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 2, ...(s.points ? { points: { show: true, size: 6, fill: s.colour } } : {}), value: (_u: uPlot, v: number | null) => (v == null ? '–' : `${Math.round(v)} ${unit}`) }))],
      axes: [{}, { label: unit }],
    }, [times, ...series.map((s) => s.values)], element);
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [times, series]);
  // The figure's text alternative: the latest values, for screen readers.
  const last = series.map((s) => `${s.label}: ${s.values.length ? Math.round(s.values[s.values.length - 1] ?? 0) : 0} ${unit}`).join(', ');
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}. Latest: ${last}`} />
    </figure>
  );
}
