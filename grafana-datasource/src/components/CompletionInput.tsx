import React, { ChangeEvent, KeyboardEvent, useEffect, useId, useRef, useState } from 'react';
import { css, cx } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Input, useStyles2 } from '@grafana/ui';

// A one-line input that completes the word at the cursor: `wordAt` says which word that is (or that there is
// nothing to complete there), `load` answers candidates for it, and they are offered in a list under the input
// (arrow keys + Enter/Tab, or a click). Completion never blocks typing: a slow or failing upstream only means no
// suggestions, and a hint saying why.

/** The word ending at the cursor that is to be completed, and where it starts. */
export interface Word {
  word: string;
  start: number;
}

export interface CompletionInputProps {
  value: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
  /** The word to complete at `cursor`, or undefined where nothing is completed. */
  wordAt: (text: string, cursor: number) => Word | undefined;
  /** Candidates for the word; those not containing it (any case), and the word itself, are left out. */
  load: (word: string) => Promise<string[]>;
  /** What `load` answers, for the hint shown when it fails: "Metric names". */
  what: string;
  ariaLabel: string;
  placeholder?: string;
  width?: number;
  monospace?: boolean;
  /** Wait this long after the last keystroke before asking (ms). */
  debounceMs?: number;
}

const MAX_SUGGESTIONS = 12;

export function CompletionInput({
  value,
  onChange,
  onBlur,
  wordAt,
  load,
  what,
  ariaLabel,
  placeholder,
  width,
  monospace = false,
  debounceMs = 200,
}: CompletionInputProps) {
  const styles = useStyles2(getStyles);
  const listId = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  const [word, setWord] = useState<Word | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const requestSeq = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => () => clearTimeout(timer.current), []);

  const close = () => {
    setSuggestions([]);
    setWord(undefined);
    setActive(0);
  };

  const ask = (w: Word | undefined) => {
    clearTimeout(timer.current);
    const seq = ++requestSeq.current;
    if (!w) {
      close();
      return;
    }
    timer.current = setTimeout(() => {
      load(w.word)
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
    <div className={width ? styles.fixed : styles.wrapper}>
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
        width={width}
        className={monospace ? styles.mono : undefined}
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
              className={cx(styles.item, monospace && styles.monoItem, i === active && styles.activeItem)}
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
      {loadError && (
        <div className={styles.hint}>
          {what} unavailable: {loadError}
        </div>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({ position: 'relative', flexGrow: 1, minWidth: 320 }),
  fixed: css({ position: 'relative' }),
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
    '&:hover': { background: theme.colors.action.hover },
  }),
  monoItem: css({ fontFamily: theme.typography.fontFamilyMonospace }),
  activeItem: css({ background: theme.colors.action.selected }),
  hint: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize, marginTop: 2 }),
});
