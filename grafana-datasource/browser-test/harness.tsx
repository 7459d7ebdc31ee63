// The browser check's page: both editors with the real @grafana/ui, Grafana's theme and global styles, and the real
// DataSource class whose resource calls go over HTTP to the harness server (run.mjs plays the plugin backend).
import React, { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { from } from 'rxjs';
import { createTheme, DataSourceInstanceSettings, DataSourceSettings } from '@grafana/data';
import { BackendSrv, setBackendSrv, TemplateSrv } from '@grafana/runtime';
import { GlobalStyles, ThemeContext } from '@grafana/ui';

import { ConfigEditor } from '../src/components/ConfigEditor';
import { QueryEditor } from '../src/components/QueryEditor';
import { DataSource } from '../src/datasource';
import { AnomalyDataSourceOptions, AnomalyQuery, AnomalySecureJsonData, DEFAULT_QUERY } from '../src/types';

// Grafana's BackendSrv as far as DataSourceWithBackend.getResource uses it: fetch({url, params}) → Observable of
// {data, status}; an HTTP error is thrown as {status, data} like Grafana does.
async function httpGet(url: string, params?: Record<string, string>) {
  const qs = params ? '?' + new URLSearchParams(params).toString() : '';
  const res = await fetch(url + qs);
  const data = await res.json();
  if (!res.ok) {
    throw { status: res.status, data };
  }
  return { data, status: res.status, ok: true, url };
}
const backendSrv = {
  fetch: (options: { url: string; params?: Record<string, string> }) => from(httpGet(options.url, options.params)),
  get: async (url: string, params?: Record<string, string>) => (await httpGet(url, params)).data,
} as unknown as BackendSrv;
setBackendSrv(backendSrv);

const instance = {
  id: 1,
  uid: 'hazewatch',
  type: 'hazewatch-anomaly-datasource',
  name: 'Hazewatch Anomaly',
  meta: { id: 'hazewatch-anomaly-datasource' },
  jsonData: {},
  access: 'proxy',
  readOnly: false,
} as unknown as DataSourceInstanceSettings<AnomalyDataSourceOptions>;
const datasource = new DataSource(instance, { replace: (s: string) => s } as unknown as TemplateSrv);

type Settings = DataSourceSettings<AnomalyDataSourceOptions, AnomalySecureJsonData>;

const storedSettings = {
  id: 1,
  uid: 'hazewatch',
  orgId: 1,
  name: 'Hazewatch Anomaly',
  type: 'hazewatch-anomaly-datasource',
  typeName: 'Hazewatch Anomaly',
  typeLogoUrl: '',
  access: 'proxy',
  url: 'http://prometheus:9090',
  user: '',
  basicAuth: false,
  basicAuthUser: '',
  isDefault: false,
  withCredentials: false,
  readOnly: false,
  version: 1,
  // What Grafana hands the editor for a saved datasource with a bearer token and one custom header: the secrets
  // themselves never reach the browser, only the flags that they are set.
  jsonData: { authType: 'bearer', httpHeaderName1: 'X-Scope-OrgID', maxSeries: 30000 },
  secureJsonFields: { bearerToken: true, httpHeaderValue1: true },
  secureJsonData: {},
} as unknown as Settings;

function ConfigPage() {
  const [options, setOptions] = useState<Settings>(storedSettings);
  (window as unknown as { savedOptions: Settings }).savedOptions = options;
  return <ConfigEditor options={options} onOptionsChange={(o) => setOptions(o as Settings)} />;
}

function QueryPage() {
  const [query, setQuery] = useState<AnomalyQuery>({
    ...DEFAULT_QUERY,
    refId: 'A',
    features: [
      { name: 'pm25', expr: 'purpleair_pm2_5_cf_1' },
      { name: 'rh', expr: '' },
    ],
  } as AnomalyQuery);
  const [runs, setRuns] = useState(0);
  (window as unknown as { currentQuery: AnomalyQuery }).currentQuery = query;
  return (
    <>
      <QueryEditor datasource={datasource} query={query} onChange={setQuery} onRunQuery={() => setRuns(runs + 1)} />
      <div data-testid="runs" style={{ marginTop: 16, opacity: 0.6 }}>
        queries run: {runs}
      </div>
    </>
  );
}

const theme = createTheme({ colors: { mode: 'dark' } });
const params = new URLSearchParams(window.location.search);
const editor = params.get('editor');
// ?width=<px>: the editor's column as wide as Grafana gives it (e.g. the panel editor beside its options pane);
// without it the editor takes the window's width, as in Explore.
const width = Number(params.get('width')) || undefined;

function Page() {
  return (
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <div style={{ padding: 24, width }} data-testid="editor-column">
        <h2>{editor === 'config' ? 'Hazewatch Anomaly — data source settings' : 'Hazewatch Anomaly — query'}</h2>
        {editor === 'config' ? <ConfigPage /> : <QueryPage />}
      </div>
    </ThemeContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(<Page />);
