import React, { ChangeEvent } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Button, IconButton, InlineField, InlineFieldRow, Input, useStyles2 } from '@grafana/ui';

import { ValidationErrors, VariableRow } from '../validation';

// The query's `variables`: values for $name in the expressions where no dashboard resolves them — always the case
// in an alert rule, which runs in Grafana's server without a browser. Rows rather than an object, so that a name
// can be typed letter by letter, left empty or repeated while editing without losing a row.

interface Props {
  rows: VariableRow[];
  errors: ValidationErrors;
  onChange: (rows: VariableRow[]) => void;
  onBlur: () => void;
  labelWidth: number;
}

export function VariablesEditor({ rows, errors, onChange, onBlur, labelWidth }: Props) {
  const styles = useStyles2(getStyles);
  const set = (i: number, patch: Partial<VariableRow>) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <>
      {rows.map((r, i) => (
        <InlineFieldRow key={i} className={styles.row}>
          <InlineField
            label={`Variable ${i + 1}`}
            labelWidth={labelWidth}
            tooltip="Written $name or ${name} in an expression."
            invalid={Boolean(errors[`variables.${i}.name`])}
            error={errors[`variables.${i}.name`]}
          >
            <Input
              aria-label={`Variable ${i + 1} name`}
              value={r.name}
              width={20}
              placeholder="site"
              onChange={(e: ChangeEvent<HTMLInputElement>) => set(i, { name: e.currentTarget.value })}
              onBlur={onBlur}
            />
          </InlineField>
          <InlineField label="Value" grow>
            <Input
              aria-label={`Variable ${i + 1} value`}
              value={r.value}
              placeholder="oakland"
              onChange={(e: ChangeEvent<HTMLInputElement>) => set(i, { value: e.currentTarget.value })}
              onBlur={onBlur}
            />
          </InlineField>
          <IconButton
            name="trash-alt"
            tooltip={`Remove variable ${r.name || i + 1}`}
            onClick={() => onChange(rows.filter((_, j) => j !== i))}
            className={styles.remove}
          />
        </InlineFieldRow>
      ))}
      <Button
        variant="secondary"
        size="sm"
        icon="plus"
        onClick={() => onChange([...rows, { name: '', value: '' }])}
        className={styles.add}
      >
        Add variable
      </Button>
    </>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  row: css({ flexWrap: 'nowrap', alignItems: 'flex-start' }),
  remove: css({ marginTop: theme.spacing(1) }),
  add: css({ alignSelf: 'flex-start' }),
});
