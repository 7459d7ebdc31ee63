import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2, QueryEditorProps } from '@grafana/data';
import {
  Button,
  Collapse,
  IconButton,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  RadioButtonGroup,
  Stack,
  Text,
  useStyles2,
} from '@grafana/ui';

import { DataSource } from '../datasource';
import { describeQuery, queryJSON, usesTrainingRange } from '../preview';
import {
  AnomalyDataSourceOptions,
  AnomalyQuery,
  Calibration,
  CompleteQuery,
  DEFAULT_PRESET_OUTPUT,
  EPACorrection,
  Feature,
  FleetAt,
  ForestScope,
  ImputeMethod,
  Mode,
  Output,
  Preset,
  PurpleAirKind,
  PurpleAirParams,
  SCHEMA_VERSION,
  withDefaults,
} from '../types';
import { MAX_FEATURES, validateQuery, validateVariables, VariableRow, variablesFromRows } from '../validation';
import { NumberField, OutputChoices, TextField } from './fields';
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

const PRESET_OPTIONS: Array<{ label: string; value: Preset; description: string }> = [
  { label: 'Isolation Forest', value: '', description: 'Your own features (PromQL), scored by an Isolation Forest' },
  {
    label: 'PurpleAir QA',
    value: 'purpleair',
    description: "PurpleAir's stored channels judged by the QA detector: broken sensor or unusual air, and why",
  },
];

const PRESET_MODE_EXPLANATION: Record<Mode, string> = {
  series:
    'The chosen sensors over the range, with kind, reason and detail at each step. The detector still sees the whole fleet.',
  fleet: 'Every sensor. At the last step, kind and reason are labels of each sensor’s frame, for alert rules.',
};

const CALIBRATION_OPTIONS: Array<{ label: string; value: Calibration; description: string }> = [
  {
    label: 'Calibrated',
    value: 'tail',
    description:
      '1 − the share of training scores this high: a threshold of 0.99999 fires on 1 ordinary reading in 100,000',
  },
  {
    label: 'Raw',
    value: 'none',
    description: "The paper's score (scikit-learn's −score_samples); its range moves with the fleet",
  },
];

const CORRECTION_OPTIONS: Array<{ label: string; value: EPACorrection; description: string }> = [
  { label: 'US-wide', value: 'us_wide', description: 'Barkjohn et al. 2021, from channels A and B' },
  { label: 'Extended', value: 'extended', description: 'Barkjohn et al. 2022, for smoke (from pm2.5_atm)' },
];

const KIND_OPTIONS: Array<{ label: string; value: PurpleAirKind; description: string }> = [
  { label: 'Both', value: '', description: 'Sensor faults and unusual air' },
  { label: 'Sensor faults', value: 'sensor', description: 'A sensor needs attention: send someone' },
  { label: 'Unusual air', value: 'air', description: 'The air itself is unusual: tell the public' },
];

const PRESET_OUTPUT_OPTIONS: Array<{ label: string; value: Output; description: string }> = [
  { label: 'Score', value: 'score', description: '0 to 1; at or above the threshold = anomaly' },
  { label: 'Anomaly', value: 'anomaly', description: '1 = anomaly, 0 = normal' },
  { label: 'Kind', value: 'kind', description: 'sensor (send someone) or air (tell the public)' },
  { label: 'Reason', value: 'reason', description: 'One word: ab_divergence, stale, …' },
  { label: 'Detail', value: 'detail', description: 'A sentence: "channel A reads 3.4× channel B for 46 min"' },
  { label: 'Since', value: 'since', description: 'When the episode began' },
  { label: 'PM2.5 EPA', value: 'pm2.5_epa', description: 'EPA-corrected PM2.5' },
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

/** The Isolation Forest's parameters that are typed as text ("auto", a count or a fraction). */
const FOREST_TEXT_FIELDS: Record<
  'maxSamples' | 'maxFeatures' | 'contamination',
  { label: string; tooltip: string; placeholder: string }
> = {
  maxSamples: {
    label: 'Max samples',
    tooltip: 'Rows each tree sees: "auto" = min(256, rows), a count, or a fraction such as 0.5.',
    placeholder: 'auto',
  },
  maxFeatures: {
    label: 'Max features',
    tooltip: 'Features each tree splits on: empty = all, a count, or a fraction such as 0.5.',
    placeholder: 'all',
  },
  contamination: {
    label: 'Contamination',
    tooltip:
      'Expected share of anomalies; sets the threshold of "decision" and "anomaly". "auto" or a fraction up to 0.5.',
    placeholder: 'auto',
  },
};

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
  const preset = q.preset === 'purpleair';
  const explanation = preset ? PRESET_MODE_EXPLANATION[q.mode] : mode?.explanation;
  const setPurpleAir = (patch: Partial<PurpleAirParams>) => update({ purpleair: { ...q.purpleair, ...patch } });
  const forestText = (key: keyof typeof FOREST_TEXT_FIELDS, labelWidth?: number) => (
    <TextField
      {...FOREST_TEXT_FIELDS[key]}
      labelWidth={labelWidth}
      error={errors[`isolationForest.${key}`]}
      value={q.isolationForest[key]}
      width={10}
      onChange={(v) => update({ isolationForest: { ...q.isolationForest, [key]: v } })}
      onBlur={run}
    />
  );
  // The preset and the forest have different outputs; a switch starts from the other's defaults. Features and
  // forest settings stay in the query (the backend does not read them with the preset), so a switch back keeps
  // them. The calibration is written out so that a version-1 query keeps its raw scores under version 2.
  const switchPreset = (next: Preset) => {
    if (parseErrors['purpleair.threshold'] && next !== 'purpleair') {
      parseErrorSetter('purpleair.threshold')(undefined);
    }
    updateAndRun({
      preset: next,
      schemaVersion: Math.max(q.schemaVersion, SCHEMA_VERSION),
      calibration: q.calibration,
      output: next === 'purpleair' ? DEFAULT_PRESET_OUTPUT : ['score'],
    });
  };
  const rangeLabel = preset ? 'Warm-up range' : q.mode === 'fleet' ? 'Calibration range' : 'Training range';
  const rangeTooltip = preset
    ? 'What the detector observes before the panel\'s range to learn each sensor (its usual ratio of the channels, its usual level): a duration like 1d, or "panel" for none. At most the last 24 h of it is used: the detector forgets what lies further back.'
    : q.mode === 'fleet'
      ? 'The fleet\'s scores over this range are what a calibrated score is measured against: a duration like 1d before the panel, or "panel" = the panel\'s own range.'
      : '"panel" = learn from the panel\'s own range; a duration like 7d = learn from the 7 days before it.';

  return (
    <div className={styles.editor} data-testid="hazewatch-query-editor">
      <div className={styles.section}>
        <InlineFieldRow>
          <InlineField label="Detector" labelWidth={LABEL_WIDTH} tooltip="What judges the readings.">
            <RadioButtonGroup<Preset> options={PRESET_OPTIONS} value={q.preset} onChange={switchPreset} />
          </InlineField>
        </InlineFieldRow>
      </div>

      {!preset && (
        <div className={styles.section}>
          <Text element="h6">Features</Text>
          {q.features.map((f, i) => (
            <InlineFieldRow key={i} className={styles.featureRow}>
              <TextField
                label={`Feature ${i + 1}`}
                ariaLabel={`Feature ${i + 1} name`}
                labelWidth={LABEL_WIDTH}
                tooltip="Name of the feature column; letters, digits and _."
                error={errors[`features.${i}.name`]}
                value={f.name}
                width={14}
                placeholder="pm25"
                onChange={(v) => setFeature(i, { name: v })}
                onBlur={run}
              />
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
      )}

      <div className={styles.section}>
        {!preset && (
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
        )}
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
          {q.mode === 'series' && !preset && (
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
        {explanation && (
          <div className={styles.explanation} data-testid="mode-explanation">
            {explanation}
          </div>
        )}
      </div>

      <div className={styles.section}>
        <InlineFieldRow>
          {usesTrainingRange(q) && (
            <TextField
              label={rangeLabel}
              labelWidth={LABEL_WIDTH}
              tooltip={rangeTooltip}
              error={errors['training.range']}
              value={q.training.range}
              width={12}
              placeholder="panel"
              onChange={(v) => update({ training: { ...q.training, range: v } })}
              onBlur={run}
            />
          )}
          <TextField
            label="Step"
            labelWidth={usesTrainingRange(q) ? undefined : LABEL_WIDTH}
            tooltip="Resolution of the rows, for training and scoring alike. Empty = the panel's interval."
            error={errors['training.step']}
            value={q.training.step}
            width={10}
            placeholder="auto"
            onChange={(v) => update({ training: { ...q.training, step: v } })}
            onBlur={run}
          />
        </InlineFieldRow>
      </div>

      {preset && (
        <div className={styles.section}>
          <Text element="h6">PurpleAir QA</Text>
          <InlineFieldRow>
            <TextField
              label="Selector"
              labelWidth={LABEL_WIDTH}
              grow
              tooltip='Label matchers added to every metric the detector reads, without braces: location_type="outside". Empty = every sensor.'
              error={errors['purpleair.selector']}
              value={q.purpleair.selector}
              placeholder='location_type="outside"'
              onChange={(v) => setPurpleAir({ selector: v })}
              onBlur={run}
            />
            {q.mode === 'series' && (
              <TextField
                label="Sensors"
                tooltip="sensor_index values to return, as a regular expression (131075|131076, or $sensor). Empty = all."
                error={errors['purpleair.sensor']}
                value={q.purpleair.sensor}
                width={20}
                placeholder="all"
                onChange={(v) => setPurpleAir({ sensor: v })}
                onBlur={run}
              />
            )}
          </InlineFieldRow>
          <InlineFieldRow>
            <NumberField
              kind="decimal"
              label="Threshold"
              labelWidth={LABEL_WIDTH}
              value={q.purpleair.threshold}
              error={errors['purpleair.threshold']}
              onParseError={parseErrorSetter('purpleair.threshold')}
              tooltip="A reading scoring at least this is an anomaly. The processor's and the CLI's default: 0.7."
              onChange={(threshold) => setPurpleAir({ threshold })}
              onBlur={run}
            />
            <InlineField label="EPA correction" tooltip="How pm2.5_epa is computed.">
              <RadioButtonGroup<EPACorrection>
                options={CORRECTION_OPTIONS}
                value={q.purpleair.correction}
                onChange={(correction) => updateAndRun({ purpleair: { ...q.purpleair, correction } })}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField
              label="Verdicts"
              labelWidth={LABEL_WIDTH}
              tooltip="Keep one kind of verdict: sensor faults for a maintenance rule, unusual air for a public one. The other kind reads as no verdict."
            >
              <RadioButtonGroup<PurpleAirKind>
                options={KIND_OPTIONS}
                value={q.purpleair.kind ?? ''}
                onChange={(kind) => updateAndRun({ purpleair: { ...q.purpleair, kind } })}
              />
            </InlineField>
            {q.mode === 'fleet' && q.fleetAt === 'last' && (
              <InlineField
                label="Detail label"
                tooltip="Also put the detail sentence in a label. It changes as an episode goes on, and a changing label starts a new alert instance at each evaluation."
              >
                <InlineSwitch
                  aria-label="Detail label"
                  value={q.purpleair.detailLabel}
                  onChange={(e) =>
                    updateAndRun({ purpleair: { ...q.purpleair, detailLabel: e.currentTarget.checked } })
                  }
                />
              </InlineField>
            )}
          </InlineFieldRow>
          <InlineFieldRow>
            <OutputChoices
              label="Output"
              labelWidth={LABEL_WIDTH}
              tooltip="Each chosen output is a field of the returned frames; at the last step of fleet mode, kind, reason and since are labels."
              error={errors['output']}
              options={PRESET_OUTPUT_OPTIONS}
              value={q.output}
              onChange={(output) => updateAndRun({ output })}
            />
          </InlineFieldRow>
        </div>
      )}

      {!preset && (
        <div className={styles.section}>
          <Text element="h6">Isolation Forest</Text>
          <InlineFieldRow>
            <NumberField
              kind="int"
              label="Trees"
              labelWidth={LABEL_WIDTH}
              value={q.isolationForest.trees}
              error={errors['isolationForest.trees']}
              onParseError={parseErrorSetter('isolationForest.trees')}
              tooltip="Number of trees (n_estimators). More trees = steadier scores, slower training. Default 100."
              onChange={(trees) => update({ isolationForest: { ...q.isolationForest, trees } })}
              onBlur={run}
            />
            {forestText('maxSamples')}
            {forestText('maxFeatures')}
          </InlineFieldRow>
          <InlineFieldRow>
            {forestText('contamination', LABEL_WIDTH)}
            <NumberField
              kind="int"
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
              <NumberField
                kind="int"
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
            <OutputChoices
              label="Output"
              labelWidth={LABEL_WIDTH}
              tooltip="Each chosen output is a field of the returned series."
              error={errors['output']}
              options={OUTPUT_OPTIONS}
              value={q.output}
              onChange={(output) => updateAndRun({ output })}
            />
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField
              label="Score"
              labelWidth={LABEL_WIDTH}
              tooltip="Calibrated: the same threshold means the same false-alarm rate at any fleet size or window. Raw: the paper's score, as version 1 queries have it."
            >
              <RadioButtonGroup<Calibration>
                options={CALIBRATION_OPTIONS}
                value={q.calibration}
                onChange={(calibration) => updateAndRun({ calibration })}
              />
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
      )}

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
