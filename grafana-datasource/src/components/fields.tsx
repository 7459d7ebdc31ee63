import React, { ChangeEvent, ReactNode, useState } from 'react';
import { Checkbox, InlineField, Input, Stack } from '@grafana/ui';

// The query editor's field shapes, each written once: a labelled text input, a labelled number input that keeps
// what was typed while it is not a number, and a row of output checkboxes. The editor describes its fields as data
// and hands them to these.

interface FieldProps {
  label: string;
  tooltip: string;
  /** Label width in grid units; the first field of a row lines up with the rows above, the others fit their label. */
  labelWidth?: number;
  /** What is wrong with the value, shown under it; undefined = nothing. */
  error?: string;
}

export interface TextFieldProps extends FieldProps {
  /** Defaults to the label. */
  ariaLabel?: string;
  id?: string;
  inputMode?: 'numeric' | 'decimal';
  value: string;
  placeholder?: string;
  /** Input width in grid units; undefined = as wide as the field. */
  width?: number;
  grow?: boolean;
  onChange: (value: string) => void;
  onBlur?: () => void;
}

/** A labelled one-line text input (the query editor's, and the config editor's limits). */
export function TextField({
  label,
  tooltip,
  labelWidth,
  error,
  ariaLabel,
  id,
  inputMode,
  value,
  placeholder,
  width,
  grow,
  onChange,
  onBlur,
}: TextFieldProps) {
  return (
    <InlineField
      label={label}
      labelWidth={labelWidth}
      grow={grow}
      tooltip={tooltip}
      invalid={Boolean(error)}
      error={error}
    >
      <Input
        id={id}
        aria-label={ariaLabel ?? label}
        inputMode={inputMode}
        value={value}
        width={width}
        placeholder={placeholder}
        onChange={(e: ChangeEvent<HTMLInputElement>) => onChange(e.currentTarget.value)}
        onBlur={onBlur}
      />
    </InlineField>
  );
}

/** What a number field accepts: its pattern, what it calls a mismatch, and the keyboard phones should show. */
const NUMBER_KINDS = {
  int: { pattern: /^-?\d+$/, what: 'a whole number', inputMode: 'numeric' },
  decimal: { pattern: /^\d*\.?\d+$/, what: 'a number', inputMode: 'decimal' },
} as const;

export interface NumberFieldProps extends FieldProps {
  kind: keyof typeof NUMBER_KINDS;
  value: number;
  /** Input width in grid units. */
  width?: number;
  onChange: (v: number) => void;
  onBlur: () => void;
  /** Told when the typed text is not a number (and when it is again), so the editor blocks running. */
  onParseError: (message: string | undefined) => void;
}

/** A number field that keeps what was typed while it is not a number, and says so. */
export function NumberField({
  kind,
  label,
  value,
  onChange,
  onBlur,
  onParseError,
  error,
  tooltip,
  width = 10,
  labelWidth,
}: NumberFieldProps) {
  const { pattern, what, inputMode } = NUMBER_KINDS[kind];
  const [draft, setDraft] = useState<string | undefined>();
  const text = draft ?? String(value);
  const mismatch = `${label.toLowerCase()} must be ${what}`;
  const shown = (draft !== undefined && !pattern.test(draft.trim()) ? mismatch : undefined) ?? error;
  return (
    <InlineField label={label} labelWidth={labelWidth} tooltip={tooltip} invalid={Boolean(shown)} error={shown}>
      <Input
        aria-label={label}
        value={text}
        width={width}
        inputMode={inputMode}
        onChange={(e: ChangeEvent<HTMLInputElement>) => {
          const t = e.currentTarget.value;
          setDraft(t);
          if (pattern.test(t.trim())) {
            onParseError(undefined);
            onChange(Number(t.trim()));
          } else {
            onParseError(mismatch);
          }
        }}
        onBlur={() => {
          if (draft !== undefined && pattern.test(draft.trim())) {
            setDraft(undefined);
          }
          onBlur();
        }}
      />
    </InlineField>
  );
}

/** The output checkboxes as one child of their InlineField (which hands its child an `invalid` prop). */
function Choices({ children }: { children: ReactNode; invalid?: boolean }) {
  return (
    <Stack direction="row" gap={2} alignItems="center" wrap="wrap">
      {children}
    </Stack>
  );
}

export interface OutputChoicesProps<T extends string> extends FieldProps {
  options: Array<{ label: string; value: T; description: string }>;
  value: readonly string[];
  /** The chosen outputs, in the order of `options`. */
  onChange: (output: T[]) => void;
}

/**
 * The outputs a query returns, one checkbox each. They wrap onto more lines where the editor is narrow (Grafana's
 * panel editor beside its options pane); the field around them must grow and shrink for that, or the row keeps its
 * one-line width and runs past the editor's right edge.
 */
export function OutputChoices<T extends string>({
  label,
  tooltip,
  labelWidth,
  error,
  options,
  value,
  onChange,
}: OutputChoicesProps<T>) {
  return (
    <InlineField
      label={label}
      labelWidth={labelWidth}
      grow
      shrink
      tooltip={tooltip}
      invalid={Boolean(error)}
      error={error}
    >
      <Choices>
        {options.map((o) => (
          <Checkbox
            key={o.value}
            label={o.label}
            description={o.description}
            value={value.includes(o.value)}
            onChange={(e) => {
              const on = e.currentTarget.checked;
              onChange(options.map((x) => x.value).filter((v) => (v === o.value ? on : value.includes(v))));
            }}
          />
        ))}
      </Choices>
    </InlineField>
  );
}
