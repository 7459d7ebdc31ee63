import React, { useState } from 'react';
import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DataSourceInstanceSettings } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

import { QueryEditor } from './QueryEditor';
import { DataSource } from '../datasource';
import { AnomalyDataSourceOptions, AnomalyQuery, DEFAULT_QUERY } from '../types';

const METRICS = ['purpleair_humidity', 'purpleair_pm2_5_atm', 'purpleair_pm2_5_cf_1', 'purpleair_temperature'];
const LABELS = ['__name__', 'instance', 'job', 'location_type', 'sensor_index', 'site'];

// The real DataSource; only its HTTP call to the backend resource is replaced, answering like the backend's
// `metrics?match=` does (names containing the typed text) and `labels` does (every label name).
function makeDataSource() {
  const ds = new DataSource(
    {
      id: 1,
      uid: 'hz',
      type: 'hazewatch-anomaly-datasource',
      name: 'Hazewatch',
      meta: {},
      jsonData: {},
    } as unknown as DataSourceInstanceSettings<AnomalyDataSourceOptions>,
    { replace: (s: string) => s } as unknown as TemplateSrv
  );
  // Like pkg/plugin/resources.go: `match` is a case-insensitive substring of the metric name.
  const getResource = jest.spyOn(ds, 'getResource').mockImplementation(async (path: string, params?: unknown) => {
    const match = ((params as { match?: string })?.match ?? '').toLowerCase();
    if (path === 'labels') {
      return LABELS;
    }
    return path === 'metrics' ? METRICS.filter((name) => name.toLowerCase().includes(match)) : [];
  });
  return { ds, getResource };
}

function renderEditor(initial: AnomalyQuery) {
  const { ds, getResource } = makeDataSource();
  const changes: AnomalyQuery[] = [];
  const onRunQuery = jest.fn();
  function Harness() {
    const [query, setQuery] = useState(initial);
    return (
      <QueryEditor
        datasource={ds}
        query={query}
        onChange={(q) => {
          changes.push(q);
          setQuery(q);
        }}
        onRunQuery={onRunQuery}
      />
    );
  }
  render(<Harness />);
  return { changes, last: () => changes[changes.length - 1], onRunQuery, getResource };
}

const filled: AnomalyQuery = {
  ...DEFAULT_QUERY,
  refId: 'A',
  features: [
    { name: 'pm25', expr: 'purpleair_pm2_5_cf_1' },
    { name: 'rh', expr: 'purpleair_humidity' },
  ],
};

describe('QueryEditor', () => {
  // No pause between keystrokes: the machine running CI may be busy, and the editors do not depend on typing speed.
  let user: ReturnType<typeof userEvent.setup>;
  beforeEach(() => {
    user = userEvent.setup({ delay: null });
  });

  it('renders a new query with the documented defaults', () => {
    renderEditor({ refId: 'A' });
    expect(screen.getByLabelText('Feature 1 name')).toHaveValue('pm25');
    expect(screen.getByLabelText('Feature 1 PromQL')).toHaveValue('');
    expect(screen.getByLabelText('Entity labels')).toHaveValue('sensor_index');
    expect(screen.getByRole('radio', { name: 'Series' })).toBeChecked();
    expect(screen.getByTestId('mode-explanation')).toHaveTextContent('Each sensor against its own history');
    expect(screen.getByLabelText('Training range')).toHaveValue('panel');
    expect(screen.getByLabelText('Trees')).toHaveValue('100');
    expect(screen.getByLabelText('Max samples')).toHaveValue('auto');
    expect(screen.getByLabelText('Contamination')).toHaveValue('auto');
    expect(screen.getByLabelText('Seed')).toHaveValue('42');
    expect(screen.getByLabelText('k')).toHaveValue('5');
    expect(screen.getByLabelText('Max features')).toHaveValue('');
    expect(screen.getByRole('radio', { name: 'KNN' })).toBeChecked();
    expect(screen.getByRole('radio', { name: 'Per sensor' })).toBeChecked();
    expect(screen.getByRole('checkbox', { name: /^Score/ })).toBeChecked();
    expect(screen.getByRole('checkbox', { name: /^Decision/ })).not.toBeChecked();
    expect(screen.getByLabelText('Include features')).not.toBeChecked();
    // An empty expression is a problem to fix, shown next to the field.
    expect(screen.getByText('PromQL expression is required')).toBeInTheDocument();
    expect(screen.getByText('1 problem to fix before it runs')).toBeInTheDocument();
  });

  it('edits a feature row and updates the preview', async () => {
    const { last, onRunQuery } = renderEditor(filled);
    const name = screen.getByLabelText('Feature 2 name');
    await user.clear(name);
    await user.type(name, 'humidity');
    const expr = screen.getByLabelText('Feature 2 PromQL');
    await user.clear(expr);
    await user.type(expr, 'avg_over_time(purpleair_humidity[[10m])');
    await user.tab();
    expect(last().features).toEqual([
      { name: 'pm25', expr: 'purpleair_pm2_5_cf_1' },
      { name: 'humidity', expr: 'avg_over_time(purpleair_humidity[10m])' },
    ]);
    expect(screen.getByLabelText('Query preview')).toHaveTextContent(
      'humidity = query_range(avg_over_time(purpleair_humidity[10m]), step the panel interval)'
    );
    expect(screen.getByText('ready to run')).toBeInTheDocument();
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('adds and removes feature rows', async () => {
    const { last } = renderEditor(filled);
    await user.click(screen.getByRole('button', { name: /Add feature/ }));
    expect(last().features).toHaveLength(3);
    expect(screen.getByLabelText('Feature 3 name')).toHaveValue('f3');
    await user.click(screen.getByRole('button', { name: 'Remove feature pm25' }));
    expect(last().features?.map((f) => f.name)).toEqual(['rh', 'f3']);
  });

  it('completes metric names from the backend resource', async () => {
    const { last, getResource } = renderEditor({ ...filled, features: [{ name: 'pm25', expr: '' }] });
    const expr = screen.getByLabelText('Feature 1 PromQL');
    await user.type(expr, 'rate(pm2_5');
    const list = await screen.findByRole('listbox', { name: 'Feature 1 PromQL suggestions' });
    expect(getResource).toHaveBeenLastCalledWith('metrics', { match: 'pm2_5' });
    expect(
      within(list)
        .getAllByRole('option')
        .map((o) => o.textContent)
    ).toEqual(['purpleair_pm2_5_atm', 'purpleair_pm2_5_cf_1']);
    await user.keyboard('{ArrowDown}{Enter}');
    expect(last().features?.[0].expr).toBe('rate(purpleair_pm2_5_cf_1');
    expect(screen.queryByRole('listbox')).not.toBeInTheDocument();
    await user.type(expr, '[[5m])');
    expect(last().features?.[0].expr).toBe('rate(purpleair_pm2_5_cf_1[5m])');
  });

  it('does not offer metric names inside a label matcher', async () => {
    const { getResource } = renderEditor({ ...filled, features: [{ name: 'pm25', expr: '' }] });
    await user.type(screen.getByLabelText('Feature 1 PromQL'), 'x{{sensor_index="1');
    await act(() => new Promise((r) => setTimeout(r, 300)));
    expect(getResource).not.toHaveBeenCalledWith('metrics', { match: 'sensor_index' });
    expect(screen.queryByRole('listbox')).not.toBeInTheDocument();
  });

  it('completes entity label names, asking the backend once', async () => {
    const { last, getResource } = renderEditor(filled);
    const entity = screen.getByLabelText('Entity labels');
    await user.type(entity, ', si');
    let list = await screen.findByRole('listbox', { name: 'Entity labels suggestions' });
    expect(
      within(list)
        .getAllByRole('option')
        .map((o) => o.textContent)
    ).toEqual(['site']);
    await user.keyboard('{Enter}');
    expect(last().entity).toEqual(['sensor_index', 'site']);
    // An empty item offers every label not chosen yet; never __name__, the metric name.
    await user.type(entity, ', ');
    list = await screen.findByRole('listbox', { name: 'Entity labels suggestions' });
    expect(
      within(list)
        .getAllByRole('option')
        .map((o) => o.textContent)
    ).toEqual(['instance', 'job', 'location_type']);
    await user.keyboard('{Escape}');
    expect(getResource.mock.calls.filter(([path]) => path === 'labels')).toHaveLength(1);
  });

  it('does not complete a template variable in the entity labels', async () => {
    const { getResource } = renderEditor(filled);
    const entity = screen.getByLabelText('Entity labels');
    await user.clear(entity);
    await user.type(entity, '$entity');
    await act(() => new Promise((r) => setTimeout(r, 300)));
    expect(getResource).not.toHaveBeenCalledWith('labels');
    expect(screen.queryByRole('listbox')).not.toBeInTheDocument();
  });

  it.each<[string, string, string]>([
    ['Feature 1 name', '9lives', 'name must start with a letter or _ and use only letters, digits and _'],
    ['Feature 2 name', 'pm25', '"pm25" is already feature 1'],
    ['Feature 1 PromQL', 'rate(x[[5m]', 'PromQL: unclosed "("'],
    ['Entity labels', 'sensor-index', '"sensor-index" is not a label name'],
    ['Training range', '7days', 'training range must be a duration like 30s, 5m, 2h, 7d, or "panel"'],
    ['Step', 'fast', 'step must be a duration like 30s, 5m, 2h, 7d'],
    ['Step', '100ms', 'step must be at least 1s'],
    ['Max features', '0', 'max features must be empty (all), a count (2) or a fraction in (0, 1] (0.5)'],
    ['Trees', '0', 'trees must be between 1 and 10000'],
    ['Trees', 'many', 'trees must be a whole number'],
    ['Max samples', '1.5', 'max samples must be "auto", a count (256) or a fraction in (0, 1] (0.5)'],
    ['Contamination', '0.7', 'contamination must be in (0, 0.5], got 0.7'],
    ['k', '0', 'k must be between 1 and 100'],
  ])('%s = %p shows %p and is not run', async (field, value, message) => {
    const { onRunQuery } = renderEditor(filled);
    const input = screen.getByLabelText(field);
    await user.clear(input);
    await user.type(input, value);
    await user.tab();
    expect(screen.getByText(message)).toBeInTheDocument();
    expect(screen.getByText(/problems? to fix before it runs/)).toBeInTheDocument();
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('switches to fleet mode with its explanation and choice of steps', async () => {
    const { last, onRunQuery } = renderEditor(filled);
    await user.click(screen.getByRole('radio', { name: 'Shared' }));
    expect(last().forest).toBe('shared');
    expect(screen.getByLabelText('Query preview')).toHaveTextContent('one forest shared by all sensor_index');
    await user.click(screen.getByRole('radio', { name: 'Fleet' }));
    expect(last().mode).toBe('fleet');
    expect(screen.getByTestId('mode-explanation')).toHaveTextContent('Sensors against each other at each step');
    expect(screen.queryByRole('radio', { name: 'Shared' })).not.toBeInTheDocument();
    expect(screen.getByRole('radio', { name: 'Last step' })).toBeChecked();
    await user.click(screen.getByRole('radio', { name: 'Each step' }));
    expect(last().fleetAt).toBe('each');
    expect(screen.getByLabelText('Query preview')).toHaveTextContent(
      'fleet: every sensor_index compared with all others at every step'
    );
    expect(onRunQuery).toHaveBeenCalledTimes(3);
  });

  it('hides k when imputation is off and writes the chosen outputs', async () => {
    const { last, onRunQuery } = renderEditor(filled);
    await user.click(screen.getByRole('radio', { name: 'None' }));
    expect(screen.queryByLabelText('k')).not.toBeInTheDocument();
    expect(last().imputation).toEqual({ method: 'none', k: 5 });
    await user.click(screen.getByRole('checkbox', { name: /^Anomaly/ }));
    expect(last().output).toEqual(['score', 'anomaly']);
    await user.click(screen.getByLabelText('Include features'));
    expect(last().includeFeatures).toBe(true);
    onRunQuery.mockClear();
    await user.click(screen.getByRole('checkbox', { name: /^Score/ }));
    await user.click(screen.getByRole('checkbox', { name: /^Anomaly/ }));
    expect(last().output).toEqual([]);
    expect(screen.getByText('choose at least one output')).toBeInTheDocument();
    // The first click still left a valid query (anomaly only) and ran it; the second emptied it and did not.
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('edits the variables alert rules use, and refuses bad names inline', async () => {
    const { last, onRunQuery } = renderEditor({ ...filled, variables: { site: 'oakland' } });
    expect(screen.getByLabelText('Variable 1 name')).toHaveValue('site');
    expect(screen.getByLabelText('Variable 1 value')).toHaveValue('oakland');
    await user.click(screen.getByRole('button', { name: /Add variable/ }));
    await user.type(screen.getByLabelText('Variable 2 name'), 'window');
    await user.type(screen.getByLabelText('Variable 2 value'), '7d');
    await user.tab();
    expect(last().variables).toEqual({ site: 'oakland', window: '7d' });
    expect(onRunQuery).toHaveBeenCalled();

    onRunQuery.mockClear();
    const name2 = screen.getByLabelText('Variable 2 name');
    await user.clear(name2);
    await user.type(name2, '__interval');
    await user.tab();
    expect(screen.getByText('names starting with __ are the macros ($__interval, …)')).toBeInTheDocument();
    await user.clear(name2);
    await user.type(name2, 'site');
    await user.tab();
    expect(screen.getByText('"site" is already variable 1')).toBeInTheDocument();
    expect(onRunQuery).not.toHaveBeenCalled();

    // Removing the repeated row makes the query valid again and runs it; removing the last leaves no variables.
    await user.click(screen.getAllByRole('button', { name: 'Remove variable site' })[1]);
    expect(last().variables).toEqual({ site: 'oakland' });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    await user.click(screen.getByRole('button', { name: 'Remove variable site' }));
    expect(last().variables).toBeUndefined();
    expect(screen.queryByLabelText('Variable 1 name')).not.toBeInTheDocument();
    expect(onRunQuery).toHaveBeenCalledTimes(2);
  });

  it('hides the training range where the backend ignores it: fleet mode with raw scores', async () => {
    const { last } = renderEditor({ ...filled, training: { range: '7d', step: '2m' } });
    expect(screen.getByLabelText('Training range')).toHaveValue('7d');
    await user.click(screen.getByRole('radio', { name: 'Fleet' }));
    // Calibrated fleet scores are measured against the fleet over that range: it is used, under its own name.
    expect(screen.getByLabelText('Calibration range')).toHaveValue('7d');
    expect(screen.getByLabelText('Query preview')).toHaveTextContent(
      "calibration: the fleet's scores over the 7d before the panel's range"
    );
    await user.click(screen.getByRole('radio', { name: 'Raw' }));
    expect(last().calibration).toBe('none');
    expect(screen.queryByLabelText('Calibration range')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Training range')).not.toBeInTheDocument();
    expect(screen.getByLabelText('Query preview')).toHaveTextContent(
      "training: each step's fleet alone (no training range)"
    );
    expect(screen.getByLabelText('Query preview')).not.toHaveTextContent('7d before');
  });

  it('selects the PurpleAir preset, hiding what it does not read', async () => {
    const { last, onRunQuery } = renderEditor(filled);
    await user.click(screen.getByRole('radio', { name: 'PurpleAir QA' }));
    expect(last().preset).toBe('purpleair');
    expect(last().output).toEqual(['score', 'anomaly', 'kind', 'reason']);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    for (const gone of ['Feature 1 name', 'Entity labels', 'Trees', 'Include features', 'Max samples']) {
      expect(screen.queryByLabelText(gone)).not.toBeInTheDocument();
    }
    expect(screen.queryByRole('radio', { name: 'Shared' })).not.toBeInTheDocument();
    expect(screen.getByLabelText('Warm-up range')).toBeInTheDocument();
    // Series mode returns the chosen sensors; fleet mode every sensor, with the detail label on offer.
    await user.type(screen.getByLabelText('Sensors'), '131075');
    await user.tab();
    expect(last().purpleair?.sensor).toBe('131075');
    expect(screen.queryByLabelText('Detail label')).not.toBeInTheDocument();
    await user.click(screen.getByRole('radio', { name: 'Fleet' }));
    expect(screen.queryByLabelText('Sensors')).not.toBeInTheDocument();
    await user.click(screen.getByLabelText('Detail label'));
    expect(last().purpleair?.detailLabel).toBe(true);
    await user.click(screen.getByRole('checkbox', { name: /^Detail/ }));
    expect(last().output).toEqual(['score', 'anomaly', 'kind', 'reason', 'detail']);
    expect(screen.getByLabelText('Query preview')).toHaveTextContent(
      'fleet: every sensor at the last step, reasons as labels'
    );
    // One kind of verdict, for a maintenance rule or a public one.
    expect(last().purpleair?.kind ?? '').toBe('');
    await user.click(screen.getByRole('radio', { name: 'Sensor faults' }));
    expect(last().purpleair?.kind).toBe('sensor');
    expect(screen.getByLabelText('Query preview')).toHaveTextContent('verdicts: sensor faults only');

    // Back to the forest: the features are still there.
    await user.click(screen.getByRole('radio', { name: 'Isolation Forest' }));
    expect(screen.getByLabelText('Feature 1 name')).toHaveValue('pm25');
    expect(last().output).toEqual(['score']);
  });

  it("checks the preset's threshold and writes the preset's JSON", async () => {
    const { last, onRunQuery } = renderEditor({ ...filled, preset: 'purpleair', mode: 'fleet' });
    // A threshold that is not one is refused next to the field, and not run.
    onRunQuery.mockClear();
    await user.clear(screen.getByLabelText('Threshold'));
    await user.type(screen.getByLabelText('Threshold'), '1.5');
    await user.tab();
    expect(screen.getByText('threshold must be above 0 and at most 1')).toBeInTheDocument();
    expect(onRunQuery).not.toHaveBeenCalled();
    await user.clear(screen.getByLabelText('Threshold'));
    await user.type(screen.getByLabelText('Threshold'), '0.8');
    await user.tab();
    expect(last().purpleair?.threshold).toBe(0.8);
    expect(onRunQuery).toHaveBeenCalledTimes(1);

    await user.click(screen.getByRole('button', { name: /Query JSON/ }));
    const json = JSON.parse(screen.getByLabelText('Query JSON').textContent ?? '');
    expect(json).toMatchObject({ schemaVersion: 2, preset: 'purpleair', mode: 'fleet', fleetAt: 'last' });
    expect(json.features).toBeUndefined();
  });

  it('keeps a version-1 query raw when it switches to the preset and back', async () => {
    const { last } = renderEditor({ ...filled, schemaVersion: 1, calibration: undefined });
    expect(screen.getByRole('radio', { name: 'Raw' })).toBeChecked();
    await user.click(screen.getByRole('radio', { name: 'PurpleAir QA' }));
    expect(last().schemaVersion).toBe(2);
    expect(last().calibration).toBe('none');
  });

  it('shows the exact JSON the backend receives', async () => {
    renderEditor(filled);
    await user.click(screen.getByRole('button', { name: /Query JSON/ }));
    const json = JSON.parse(screen.getByLabelText('Query JSON').textContent ?? '');
    expect(json.schemaVersion).toBe(2);
    expect(json.calibration).toBe('tail');
    expect(json.features).toEqual(filled.features);
    expect(json.isolationForest).toEqual({
      trees: 100,
      maxSamples: 'auto',
      contamination: 'auto',
      maxFeatures: '',
      seed: 42,
    });
  });
});
