/** Small building blocks every page uses: fields with labels, messages, status badges, bodies, paging. */
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api';

export { prettyBody } from './pretty-body';

let nextId = 0;
export function useId(prefix: string): string {
  const ref = useRef<string>();
  if (!ref.current) ref.current = `${prefix}-${++nextId}`;
  return ref.current;
}

/** Loads data, reloading when deps change; `reload` asks again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data?: T; error?: string; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error: errorText(error), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/**
 * A form's action: `run` calls it with `busy` set and the last error cleared, and keeps the error's
 * text for the form to show. `setError` reports a problem found before calling.
 */
export function useAction(): { busy: boolean; error?: string; setError: (error?: string) => void; run: (action: () => Promise<void>) => Promise<void> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** Calls `tick` every `ms` while `on`. */
export function useInterval(tick: () => void, ms: number, on = true): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (!on) return;
    const timer = setInterval(() => saved.current(), ms);
    return () => clearInterval(timer);
  }, [ms, on]);
}

export function PageTitle({ children }: { children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${typeof children === 'string' ? children : 'Console'} · Instant OpenHIE`;
  }, [children]);
  return <h1>{children}</h1>;
}

export function ErrorNote({ error }: { error?: string }) {
  if (!error) return null;
  return <p class="note error" role="alert">{error}</p>;
}

export function Notice({ message }: { message?: string }) {
  return <p class="note ok" role="status" aria-live="polite">{message ?? ''}</p>;
}

type InputProps = JSX.InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: string };
export function Field({ label, hint, ...input }: InputProps) {
  const id = useId('f');
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...input} />
      {hint && <small id={`${id}-hint`}>{hint}</small>}
    </div>
  );
}

export function TextArea({ label, hint, ...input }: JSX.TextareaHTMLAttributes<HTMLTextAreaElement> & { label: string; hint?: string }) {
  const id = useId('t');
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...input} />
      {hint && <small id={`${id}-hint`}>{hint}</small>}
    </div>
  );
}

export function Select({ label, options, ...select }: JSX.SelectHTMLAttributes<HTMLSelectElement> & { label: string; options: Array<[string, string]> }) {
  const id = useId('s');
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} {...select}>
        {options.map(([value, text]) => <option key={value} value={value}>{text}</option>)}
      </select>
    </div>
  );
}

export function Check({ label, checked, onChange }: { label: string; checked: boolean; onChange: (value: boolean) => void }) {
  const id = useId('c');
  return (
    <div class="check">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />
      <label for={id}>{label}</label>
    </div>
  );
}

const STATUS_CLASS: Record<string, string> = {
  Successful: 'good', Completed: 'good', 'Completed with error(s)': 'warn', Failed: 'bad', Processing: 'busy', 'Pending Async': 'busy',
  Queued: 'busy', Paused: 'warn', Cancelled: 'warn', enabled: 'good', disabled: 'warn', up: 'good', down: 'bad',
};
export function StatusBadge({ status }: { status?: string }) {
  return <span class={`badge ${STATUS_CLASS[status ?? ''] ?? ''}`}>{status ?? '–'}</span>;
}

export function Pager({ page, hasMore, onPage }: { page: number; hasMore: boolean; onPage: (page: number) => void }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={page === 0} onClick={() => onPage(page - 1)}>Previous</button>
      <span aria-live="polite">Page {page + 1}</span>
      <button type="button" disabled={!hasMore} onClick={() => onPage(page + 1)}>Next</button>
    </nav>
  );
}

export function formatTime(value?: string): string {
  if (!value) return '–';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

export const splitList = (text: string): string[] => text.split(',').map((s) => s.trim()).filter(Boolean);
