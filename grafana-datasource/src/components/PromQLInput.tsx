import React, { ChangeEvent, KeyboardEvent, useEffect, useId, useRef, useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Input, useStyles2 } from '@grafana/ui';

// A one-line PromQL input that completes metric names: the identifier left of the cursor is sent to the backend's
// `metrics?match=` resource and the answers are offered in a list under the input (arrow keys + Enter/Tab, or a
// click). Completion never blocks typing: a slow or failing upstream only means no suggestions.

export interface PromQLInputProps {
  value: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
  /** Metric names whose name matches the typed prefix. */
  loadMetricNames: (match: string) => Promise<string[]>;
  ariaLabel: string;
  placeholder?: string;
  /** Shown by the surrounding field; kept for callers that style on it. */
  invalid?: boolean;
  /** Wait this long after the last keystroke before asking (ms). */
  debounceMs?: number;
}

const MAX_SUGGESTIONS = 12;
// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*
const WORD_BEFORE_CURSOR = /[A-Za-z_:][A-Za-z0-9_:]*$/;

/** The identifier that ends at `cursor` and where it starts, or undefined inside a string/label matcher. */
export function wordAt(text: string, cursor: number): { word: string; start: number } | undefined {
  const before = text.slice(0, cursor);
  // Inside {...} (label matchers) or "..." the word is a label name/value, not a metric name.
  const opened = (before.match(/\{/g) ?? []).length - (before.match(/\}/g) ?? []).length;
  const quotes = (before.match(/"/g) ?? []).length;
  if (opened > 0 || quotes % 2 === 1) {
    return undefined;
  }
  const m = WORD_BEFORE_CURSOR.exec(before);
  if (!m) {
    return undefined;
  }
  return { word: m[0], start: cursor - m[0].length };
}

export function PromQLInput({
  value,
  onChange,
  onBlur,
  loadMetricNames,
  ariaLabel,
  placeholder,
  debounceMs = 200,
}: PromQLInputProps) {
  const styles = useStyles2(getStyles);
  const listId = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  const [word, setWord] = useState<{ word: string; start: number } | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const requestSeq = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => () => clearTimeout(timer.current), []);

  const close = () => {
    setSuggestions([]);
    setWord(undefined);
    setActive(0);
  };

  const ask = (w: { word: string; start: number } | undefined) => {
    clearTimeout(timer.current);
    const seq = ++requestSeq.current;
    if (!w) {
      close();
      return;
    }
    timer.current = setTimeout(() => {
      loadMetricNames(w.word)
        .then((names) => {
          if (seq !== requestSeq.current) {
            return; // an older answer arriving after a newer request
          }
          const lower = w.word.toLowerCase();
          const matching = names.filter((n) => n.toLowerCase().includes(lower) && n !== w.word);
          setSuggestions(matching.slice(0, MAX_SUGGESTIONS));
          setWord(w);
          setActive(0);
          setLoadError(undefined);
        })
        .catch((err: unknown) => {
          if (seq === requestSeq.current) {
            close();
            const msg = (err as { data?: { error?: string; message?: string }; message?: string }) ?? {};
            setLoadError(msg.data?.error ?? msg.data?.message ?? msg.message ?? 'request failed');
          }
        });
    }, debounceMs);
  };

  const accept = (name: string) => {
    if (!word) {
      return;
    }
    const end = word.start + word.word.length;
    const next = value.slice(0, word.start) + name + value.slice(end);
    onChange(next);
    close();
    requestSeq.current++;
    const cursor = word.start + name.length;
    requestAnimationFrame(() => {
      inputRef.current?.setSelectionRange(cursor, cursor);
    });
  };

  const onInput = (e: ChangeEvent<HTMLInputElement>) => {
    const text = e.currentTarget.value;
    const cursor = e.currentTarget.selectionStart ?? text.length;
    onChange(text);
    ask(wordAt(text, cursor));
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (suggestions.length === 0) {
      return;
    }
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setActive((active + 1) % suggestions.length);
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((active - 1 + suggestions.length) % suggestions.length);
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      e.preventDefault();
      accept(suggestions[active]);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      close();
    }
  };

  const open = suggestions.length > 0;
  return (
    <div className={styles.wrapper}>
      <Input
        ref={inputRef}
        aria-label={ariaLabel}
        role="combobox"
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        value={value}
        placeholder={placeholder}
        spellCheck={false}
        autoComplete="off"
        className={styles.mono}
        onChange={onInput}
        onKeyDown={onKeyDown}
        onBlur={() => {
          // Let a click on a suggestion land before the list disappears.
          setTimeout(close, 150);
          onBlur?.();
        }}
      />
      {open && (
        <ul id={listId} role="listbox" aria-label={`${ariaLabel} suggestions`} className={styles.list}>
          {suggestions.map((s, i) => (
            <li
              key={s}
              role="option"
              aria-selected={i === active}
              className={i === active ? styles.activeItem : styles.item}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(s);
              }}
            >
              {s}
            </li>
          ))}
        </ul>
      )}
      {loadError && <div className={styles.hint}>Metric names unavailable: {loadError}</div>}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({ position: 'relative', flexGrow: 1, minWidth: 320 }),
  // Monospace like Grafana's PromQL editors. Grafana loads Roboto Mono; where it is missing the fallbacks are named
  // because some generic monospace fonts (DejaVu Sans Mono) lose underscores inside a 32px input in Chromium.
  mono: css({
    input: { fontFamily: `'Roboto Mono', Menlo, Consolas, 'Liberation Mono', ${theme.typography.fontFamilyMonospace}` },
  }),
  list: css({
    position: 'absolute',
    zIndex: theme.zIndex.dropdown,
    top: '100%',
    left: 0,
    right: 0,
    margin: 0,
    padding: theme.spacing(0.5, 0),
    listStyle: 'none',
    background: theme.colors.background.elevated,
    border: `1px solid ${theme.colors.border.weak}`,
    boxShadow: theme.shadows.z3,
    maxHeight: 300,
    overflowY: 'auto',
  }),
  item: css({
    padding: theme.spacing(0.5, 1),
    cursor: 'pointer',
    fontFamily: theme.typography.fontFamilyMonospace,
    '&:hover': { background: theme.colors.action.hover },
  }),
  activeItem: css({
    padding: theme.spacing(0.5, 1),
    cursor: 'pointer',
    fontFamily: theme.typography.fontFamilyMonospace,
    background: theme.colors.action.selected,
  }),
  hint: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize, marginTop: 2 }),
});
