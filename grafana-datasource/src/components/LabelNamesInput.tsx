import React, { useRef } from 'react';

import { CompletionInput, Word } from './CompletionInput';

// A comma-separated list of label names ("sensor_index, site") that completes the name being typed from the
// upstream's label names (the backend's `labels` resource, asked once per editor and kept).

export interface LabelNamesInputProps {
  value: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
  /** Every label name the upstream knows. */
  loadLabelNames: () => Promise<string[]>;
  ariaLabel: string;
  placeholder?: string;
  width?: number;
}

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The list item being typed at `cursor` (after the last comma before it, leading spaces left out), or undefined where
 * it cannot become a label name (a template variable, a typo the validation will name).
 */
export function labelNameAt(text: string, cursor: number): Word | undefined {
  const before = text.slice(0, cursor);
  const item = before.slice(before.lastIndexOf(',') + 1);
  const word = item.trimStart();
  if (word !== '' && !LABEL_NAME.test(word)) {
    return undefined;
  }
  return { word, start: cursor - word.length };
}

export function LabelNamesInput({ value, loadLabelNames, ...rest }: LabelNamesInputProps) {
  const names = useRef<Promise<string[]> | undefined>(undefined);
  const load = async () => {
    if (!names.current) {
      names.current = loadLabelNames();
      // A failed answer is not kept: the next keystroke asks again.
      names.current.catch(() => (names.current = undefined));
    }
    const chosen = new Set(value.split(',').map((s) => s.trim()));
    // __name__ is the metric name, never an entity label.
    return (await names.current).filter((n) => n !== '__name__' && !chosen.has(n));
  };
  return <CompletionInput {...rest} value={value} wordAt={labelNameAt} load={load} what="Label names" />;
}
