import React from 'react';

import { CompletionInput, Word } from './CompletionInput';

// A one-line PromQL input that completes metric names: the identifier left of the cursor is sent to the backend's
// `metrics?match=` resource and the answers are offered under the input.

export interface PromQLInputProps {
  value: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
  /** Metric names whose name matches the typed prefix. */
  loadMetricNames: (match: string) => Promise<string[]>;
  ariaLabel: string;
  placeholder?: string;
  /** Wait this long after the last keystroke before asking (ms). */
  debounceMs?: number;
}

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*
const WORD_BEFORE_CURSOR = /[A-Za-z_:][A-Za-z0-9_:]*$/;

/** The identifier that ends at `cursor` and where it starts, or undefined inside a string/label matcher. */
export function wordAt(text: string, cursor: number): Word | undefined {
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

export function PromQLInput({ loadMetricNames, ...rest }: PromQLInputProps) {
  return <CompletionInput {...rest} wordAt={wordAt} load={loadMetricNames} what="Metric names" monospace />;
}
