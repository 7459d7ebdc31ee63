import React, { ChangeEvent, ReactNode, useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2, QueryEditorProps } from '@grafana/data';
import {
  Button,
  Checkbox,
  Collapse,
  IconButton,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  Input,
  RadioButtonGroup,
  Stack,
  Text,
  useStyles2,
} from '@grafana/ui';

import { DataSource } from '../datasource';
import { describeQuery, queryJSON } from '../preview';
import {
  AnomalyDataSourceOptions,
  AnomalyQuery,
  CompleteQuery,
  Feature,
  FleetAt,
  ForestScope,
  ImputeMethod,
  Mode,
  Output,
  withDefaults,
} from '../types';
import { MAX_FEATURES, validateQuery, validateVariables, VariableRow, variablesFromRows } from '../validation';
import { LabelNamesInput } from './LabelNamesInput';
import { PromQLInput } from './PromQLInput';
import { VariablesEditor } from './VariablesEditor';

type Props = QueryEditorProps<DataSource, AnomalyQuery, AnomalyDataSourceOptions>;

const MODE_OPTIONS: Array<{ label: string; value: Mode; explanation: string }> = [
  {
    label: 'Series',
    value: 'series',
    explanation: 'Each sensor against its own history: flags the moments a sensor behaves unlike its usual self.',
  },
  {
    label: 'Fleet',
    value: 'fleet',
    explanation: 'Sensors against each other at each step: flags the sensors that read unlike the rest of the fleet.',
  },
];

const FOREST_OPTIONS: Array<{ label: string; value: ForestScope; description: string }> = [
  { label: 'Per sensor', value: 'per_entity', description: 'One forest per sensor, trained on its own history' },
  { label: 'Shared', value: 'shared', description: "One forest trained on every sensor's history together" },
];

const FLEET_AT_OPTIONS: Array<{ label: string; value: FleetAt; description: string }> = [
  { label: 'Last step', value: 'last', description: 'Score the sensors at the end of the range (alert rules)' },
  { label: 'Each step', value: 'each', description: 'Score the sensors at every step of the range' },
];

const IMPUTE_OPTIONS: Array<{ label: string; value: ImputeMethod; description: string }> = [
  { label: 'KNN', value: 'knn', description: 'Fill a missing cell from the k most similar rows' },
  { label: 'None', value: 'none', description: 'Drop points with a missing feature' },
];

const OUTPUT_OPTIONS: Array<{ label: string; value: Output; description: string }> = [
  { label: 'Score', value: 'score', description: 'Anomaly score from 0 to 1: higher = more anomalous' },
  { label: 'Decision', value: 'decision', description: 'Score against the contamination threshold: below 0 = anomaly' },
  { label: 'Anomaly', value: 'anomaly', description: '1 = anomaly, 0 = normal (for alert rules)' },
];

const LABEL_WIDTH = 18;

interface IntInputProps {
  label: string;
  value: number;
  onChange: (v: number) => void;
  onBlur: () => void;
  /** Told when the typed text is not a whole number (and when it is again), so the editor blocks running. */
  onParseError: (message: string | undefined) => void;
  error?: string;
  tooltip: string;
  width?: number;
  /** Label width in grid units; the first field of a row lines up with the rows above, the others fit their label. */
  labelWidth?: number;
}

const WHOLE_NUMBER = /^-?\d+$/;

/** The output checkboxes as one child of their InlineField (which hands its child an `invalid` prop). */
function Choices({ children }: { children: ReactNode; invalid?: boolean }) {
  return (
    <Stack direction="row" gap={2} alignItems="center">
      {children}
    </Stack>
  );
}

/** A whole-number field that keeps what was typed while it is not a number, and says so. */
function IntInput({
  label,
  value,
  onChange,
  onBlur,
  onParseError,
  error,
  tooltip,
  width = 10,
  labelWidth,
}: IntInputProps) {
  const [draft, setDraft] = useState<string | undefined>();
  const text = draft ?? String(value);
  const parseError =
    draft !== undefined && !WHOLE_NUMBER.test(draft.trim())
      ? `${label.toLowerCase()} must be a whole number`
      : undefined;
  const shown = parseError ?? error;
  return (
    <InlineField label={label} labelWidth={labelWidth} tooltip={tooltip} invalid={Boolean(shown)} error={shown}>
      <Input
        aria-label={label}
        value={text}
        width={width}
        inputMode="numeric"
        onChange={(e: ChangeEvent<HTMLInputElement>) => {
          const t = e.currentTarget.value;
          setDraft(t);
          if (WHOLE_NUMBER.test(t.trim())) {
            onParseError(undefined);
            onChange(Number(t.trim()));
          } else {
            onParseError(`${label.toLowerCase()} must be a whole number`);
          }
        }}
        onBlur={() => {
          if (draft !== undefined && WHOLE_NUMBER.test(draft.trim())) {
            setDraft(undefined);
          }
          onBlur();
        }}
      />
    </InlineField>
  );
}

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const styles = useStyles2(getStyles);
  const q: CompleteQuery = useMemo(() => withDefaults(query), [query]);
  // Text typed into a number field that is not a number never reaches the query; it is a problem all the same.
  const [parseErrors, setParseErrors] = useState<Record<string, string>>({});
  // The variables are edited as rows (see VariablesEditor); the query holds them as an object.
  const [variableRows, setVariableRows] = useState<VariableRow[]>(() =>
    Object.entries(query.variables ?? {}).map(([name, value]) => ({ name, value }))
  );
  const errors = useMemo(
    () => ({ ...validateQuery(q), ...parseErrors, ...validateVariables(variableRows) }),
    [q, parseErrors, variableRows]
  );
  const valid = Object.keys(errors).length === 0;
  const parseErrorSetter = (key: string) => (message: string | undefined) =>
    setParseErrors((prev) => {
      const next = { ...prev };
      if (message) {
        next[key] = message;
      } else {
        delete next[key];
      }
      return next;
    });
  // The entity labels are typed as "a, b"; the text is kept as typed while the list is stored parsed.
  const [entityText, setEntityText] = useState<string | undefined>();
  const [showJSON, setShowJSON] = useState(false);

  const update = (patch: Partial<AnomalyQuery>) => onChange({ ...q, ...patch });
  // Runs only a query that would pass the backend's checks; an invalid one is shown, not sent.
  const run = () => {
    if (valid) {
      onRunQuery();
    }
  };
  const updateAndRun = (patch: Partial<AnomalyQuery>, rows: VariableRow[] = variableRows) => {
    const next = { ...q, ...patch };
    onChange(next);
    const problems = { ...validateQuery(next), ...parseErrors, ...validateVariables(rows) };
    if (Object.keys(problems).length === 0) {
      onRunQuery();
    }
  };

  const setFeature = (i: number, patch: Partial<Feature>) =>
    update({ features: q.features.map((f, j) => (j === i ? { ...f, ...patch } : f)) });

  const addFeature = () => {
    const used = new Set(q.features.map((f) => f.name));
    let n = q.features.length + 1;
    while (used.has(`f${n}`)) {
      n++;
    }
    update({ features: [...q.features, { name: `f${n}`, expr: '' }] });
  };

  const removeFeature = (i: number) => updateAndRun({ features: q.features.filter((_, j) => j !== i) });

  const loadMetricNames = (match: string) => datasource.getMetricNames(match);
  const loadLabelNames = () => datasource.getLabelNames();

  const mode = MODE_OPTIONS.find((m) => m.value === q.mode);

  return (
    <div className={styles.editor} data-testid="hazewatch-query-editor">
      <div className={styles.section}>
        <Text element="h6">Features</Text>
        {q.features.map((f, i) => (
          <InlineFieldRow key={i} className={styles.featureRow}>
            <InlineField
              label={`Feature ${i + 1}`}
              labelWidth={LABEL_WIDTH}
              tooltip="Name of the feature column; letters, digits and _."
              invalid={Boolean(errors[`features.${i}.name`])}
              error={errors[`features.${i}.name`]}
            >
              <Input
                aria-label={`Feature ${i + 1} name`}
                value={f.name}
                width={14}
                placeholder="pm25"
                onChange={(e: ChangeEvent<HTMLInputElement>) => setFeature(i, { name: e.currentTarget.value })}
                onBlur={run}
              />
            </InlineField>
            <InlineField
              label="PromQL"
              grow
              invalid={Boolean(errors[`features.${i}.expr`])}
              error={errors[`features.${i}.expr`]}
              tooltip="Any PromQL expression; its series are joined with the other features on the entity labels."
            >
              <PromQLInput
                ariaLabel={`Feature ${i + 1} PromQL`}
                value={f.expr}
                placeholder="purpleair_pm2_5_cf_1"
                loadMetricNames={loadMetricNames}
                onChange={(expr) => setFeature(i, { expr })}
                onBlur={run}
              />
            </InlineField>
            <IconButton
              name="trash-alt"
              tooltip={`Remove feature ${f.name || i + 1}`}
              disabled={q.features.length <= 1}
              onClick={() => removeFeature(i)}
              className={styles.remove}
            />
          </InlineFieldRow>
        ))}
        {errors['features'] && (
          <Text color="error" element="p">
            {errors['features']}
          </Text>
        )}
        <Button
          variant="secondary"
          size="sm"
          icon="plus"
          onClick={addFeature}
          disabled={q.features.length >= MAX_FEATURES}
          className={styles.add}
        >
          Add feature
        </Button>
      </div>

      <div className={styles.section}>
        <InlineFieldRow>
          <InlineField
            label="Entity labels"
            labelWidth={LABEL_WIDTH}
            tooltip="The label(s) that identify one sensor; features are joined on them. Comma-separated; names are completed from the upstream's labels."
            invalid={Boolean(errors['entity'])}
            error={errors['entity']}
          >
            <LabelNamesInput
              ariaLabel="Entity labels"
              value={entityText ?? q.entity.join(', ')}
              width={30}
              placeholder="sensor_index"
              loadLabelNames={loadLabelNames}
              onChange={(text) => {
                setEntityText(text);
                update({
                  entity: text
                    .split(',')
                    .map((s) => s.trim())
                    .filter((s) => s !== ''),
                });
              }}
              onBlur={() => {
                setEntityText(undefined);
                run();
              }}
            />
          </InlineField>
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField
            label="Mode"
            labelWidth={LABEL_WIDTH}
            tooltip="How rows are formed and what is compared with what."
          >
            <RadioButtonGroup<Mode>
              options={MODE_OPTIONS.map(({ label, value }) => ({ label, value }))}
              value={q.mode}
              onChange={(m) => updateAndRun({ mode: m })}
            />
          </InlineField>
          {q.mode === 'series' && (
            <InlineField
              label="Forest"
              tooltip="One forest per sensor, or one forest learning from all sensors together."
            >
              <RadioButtonGroup<ForestScope>
                options={FOREST_OPTIONS}
                value={q.forest}
                onChange={(forest) => updateAndRun({ forest })}
              />
            </InlineField>
          )}
          {q.mode === 'fleet' && (
            <InlineField
              label="Score at"
              tooltip="Only the last step of the range (for alert rules over a snapshot), or every step."
            >
              <RadioButtonGroup<FleetAt>
                options={FLEET_AT_OPTIONS}
                value={q.fleetAt}
                onChange={(fleetAt) => updateAndRun({ fleetAt })}
              />
            </InlineField>
          )}
        </InlineFieldRow>
        {mode && (
          <div className={styles.explanation} data-testid="mode-explanation">
            {mode.explanation}
          </div>
        )}
      </div>

      <div className={styles.section}>
        <InlineFieldRow>
          <InlineField
            label="Training range"
            labelWidth={LABEL_WIDTH}
            tooltip='"panel" = learn from the panel&apos;s own range; a duration like 7d = learn from the 7 days before it.'
            invalid={Boolean(errors['training.range'])}
            error={errors['training.range']}
          >
            <Input
              aria-label="Training range"
              value={q.training.range}
              width={12}
              placeholder="panel"
              onChange={(e: ChangeEvent<HTMLInputElement>) =>
                update({ training: { ...q.training, range: e.currentTarget.value } })
              }
              onBlur={run}
            />
          </InlineField>
          <InlineField
            label="Step"
            tooltip="Resolution of the rows, for training and scoring alike. Empty = the panel's interval."
            invalid={Boolean(errors['training.step'])}
            error={errors['training.step']}
          >
            <Input
              aria-label="Step"
              value={q.training.step}
              width={10}
              placeholder="auto"
              onChange={(e: ChangeEvent<HTMLInputElement>) =>
                update({ training: { ...q.training, step: e.currentTarget.value } })
              }
              onBlur={run}
            />
          </InlineField>
        </InlineFieldRow>
      </div>

      <div className={styles.section}>
        <Text element="h6">Isolation Forest</Text>
        <InlineFieldRow>
          <IntInput
            label="Trees"
            labelWidth={LABEL_WIDTH}
            value={q.isolationForest.trees}
            error={errors['isolationForest.trees']}
            onParseError={parseErrorSetter('isolationForest.trees')}
            tooltip="Number of trees (n_estimators). More trees = steadier scores, slower training. Default 100."
            onChange={(trees) => update({ isolationForest: { ...q.isolationForest, trees } })}
            onBlur={run}
          />
          <InlineField
            label="Max samples"
            tooltip='Rows each tree sees: "auto" = min(256, rows), a count, or a fraction such as 0.5.'
            invalid={Boolean(errors['isolationForest.maxSamples'])}
            error={errors['isolationForest.maxSamples']}
          >
            <Input
              aria-label="Max samples"
              value={q.isolationForest.maxSamples}
              width={10}
              placeholder="auto"
              onChange={(e: ChangeEvent<HTMLInputElement>) =>
                update({ isolationForest: { ...q.isolationForest, maxSamples: e.currentTarget.value } })
              }
              onBlur={run}
            />
          </InlineField>
          <InlineField
            label="Max features"
            tooltip="Features each tree splits on: empty = all, a count, or a fraction such as 0.5."
            invalid={Boolean(errors['isolationForest.maxFeatures'])}
            error={errors['isolationForest.maxFeatures']}
          >
            <Input
              aria-label="Max features"
              value={q.isolationForest.maxFeatures}
              width={10}
              placeholder="all"
              onChange={(e: ChangeEvent<HTMLInputElement>) =>
                update({ isolationForest: { ...q.isolationForest, maxFeatures: e.currentTarget.value } })
              }
              onBlur={run}
            />
          </InlineField>
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField
            label="Contamination"
            labelWidth={LABEL_WIDTH}
            tooltip='Expected share of anomalies; sets the threshold of "decision" and "anomaly". "auto" or a fraction up to 0.5.'
            invalid={Boolean(errors['isolationForest.contamination'])}
            error={errors['isolationForest.contamination']}
          >
            <Input
              aria-label="Contamination"
              value={q.isolationForest.contamination}
              width={10}
              placeholder="auto"
              onChange={(e: ChangeEvent<HTMLInputElement>) =>
                update({ isolationForest: { ...q.isolationForest, contamination: e.currentTarget.value } })
              }
              onBlur={run}
            />
          </InlineField>
          <IntInput
            label="Seed"
            value={q.isolationForest.seed}
            error={errors['isolationForest.seed']}
            onParseError={parseErrorSetter('isolationForest.seed')}
            tooltip="Same data + same seed = same scores, so alert rules do not flap."
            onChange={(seed) => update({ isolationForest: { ...q.isolationForest, seed } })}
            onBlur={run}
          />
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField
            label="Missing values"
            labelWidth={LABEL_WIDTH}
            tooltip="What happens to a point where a feature has no sample."
          >
            <RadioButtonGroup<ImputeMethod>
              options={IMPUTE_OPTIONS}
              value={q.imputation.method}
              onChange={(method) => updateAndRun({ imputation: { ...q.imputation, method } })}
            />
          </InlineField>
          {q.imputation.method === 'knn' && (
            <IntInput
              label="k"
              value={q.imputation.k}
              error={errors['imputation.k']}
              onParseError={parseErrorSetter('imputation.k')}
              tooltip="Neighbours a missing cell is averaged from (scikit-learn KNNImputer). Default 5."
              width={8}
              onChange={(k) => update({ imputation: { ...q.imputation, k } })}
              onBlur={run}
            />
          )}
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField
            label="Output"
            labelWidth={LABEL_WIDTH}
            tooltip="Each chosen output is a field of the returned series."
            invalid={Boolean(errors['output'])}
            error={errors['output']}
          >
            <Choices>
              {OUTPUT_OPTIONS.map((o) => (
                <Checkbox
                  key={o.value}
                  label={o.label}
                  description={o.description}
                  value={q.output.includes(o.value)}
                  onChange={(e) => {
                    const on = e.currentTarget.checked;
                    const output = OUTPUT_OPTIONS.map((x) => x.value).filter((v) =>
                      v === o.value ? on : q.output.includes(v)
                    );
                    updateAndRun({ output });
                  }}
                />
              ))}
            </Choices>
          </InlineField>
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField
            label="Include features"
            labelWidth={LABEL_WIDTH}
            tooltip="Also return the feature values the forest saw, with imputed cells flagged."
          >
            <InlineSwitch
              aria-label="Include features"
              value={q.includeFeatures}
              onChange={(e) => updateAndRun({ includeFeatures: e.currentTarget.checked })}
            />
          </InlineField>
        </InlineFieldRow>
      </div>

      <div className={styles.section}>
        <Text element="h6">Variables for alert rules</Text>
        <div className={styles.explanation}>
          Values for $name in the expressions where no dashboard variable resolves it — always in an alert rule, which
          runs without a browser.
        </div>
        <VariablesEditor
          rows={variableRows}
          errors={errors}
          labelWidth={LABEL_WIDTH}
          onChange={(rows) => {
            setVariableRows(rows);
            const variables = variablesFromRows(rows);
            // Removing a row runs the query at once, as removing a feature does; typing waits for the blur.
            if (rows.length < variableRows.length) {
              updateAndRun({ variables }, rows);
            } else {
              update({ variables });
            }
          }}
          onBlur={run}
        />
      </div>

      <div className={styles.section} data-testid="query-preview">
        <Stack direction="row" alignItems="center" gap={1}>
          <Text element="h6">Preview</Text>
          {valid ? (
            <Text color="success" variant="bodySmall">
              ready to run
            </Text>
          ) : (
            <Text color="error" variant="bodySmall">
              {`${Object.keys(errors).length} problem${Object.keys(errors).length === 1 ? '' : 's'} to fix before it runs`}
            </Text>
          )}
        </Stack>
        <pre className={styles.preview} aria-label="Query preview">
          {describeQuery(q).join('\n')}
        </pre>
        <Collapse label="Query JSON" isOpen={showJSON} onToggle={() => setShowJSON(!showJSON)} collapsible>
          <pre className={styles.preview} aria-label="Query JSON">
            {queryJSON(q)}
          </pre>
        </Collapse>
      </div>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  editor: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(1.5) }),
  section: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(0.5) }),
  featureRow: css({ flexWrap: 'nowrap', alignItems: 'flex-start' }),
  remove: css({ marginTop: theme.spacing(1) }),
  add: css({ alignSelf: 'flex-start' }),
  explanation: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }),
  preview: css({
    margin: 0,
    padding: theme.spacing(1),
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    background: theme.colors.background.secondary,
    whiteSpace: 'pre-wrap',
  }),
});
