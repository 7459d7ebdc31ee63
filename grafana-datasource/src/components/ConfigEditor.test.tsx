import React, { useState } from 'react';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DataSourceSettings } from '@grafana/data';

import { ConfigEditor } from './ConfigEditor';
import { DOCS_URL } from '../links';
import { AnomalyDataSourceOptions, AnomalySecureJsonData } from '../types';

type Settings = DataSourceSettings<AnomalyDataSourceOptions, AnomalySecureJsonData>;

function settings(patch: Partial<Settings> = {}): Settings {
  return {
    id: 1,
    uid: 'hz',
    orgId: 1,
    name: 'Hazewatch',
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
    jsonData: {},
    secureJsonFields: {},
    secureJsonData: {},
    version: 1,
    ...patch,
  } as Settings;
}

// Grafana owns the settings state; the harness plays that part so typing accumulates across renders, and records
// every object the editor hands back (what Grafana would save).
function renderEditor(initial: Settings) {
  const saved: Settings[] = [];
  function Harness() {
    const [options, setOptions] = useState(initial);
    return (
      <ConfigEditor
        options={options}
        onOptionsChange={(o) => {
          saved.push(o as Settings);
          setOptions(o as Settings);
        }}
      />
    );
  }
  render(<Harness />);
  return { saved, last: () => saved[saved.length - 1] };
}

describe('ConfigEditor', () => {
  // No pause between keystrokes: the machine running CI may be busy, and the editors do not depend on typing speed.
  let user: ReturnType<typeof userEvent.setup>;
  beforeEach(() => {
    user = userEvent.setup({ delay: null });
  });

  // plugin-ui's method picker is a Select: open it and click the option.
  async function chooseAuth(label: string) {
    await user.click(screen.getByLabelText('Authentication method'));
    await user.click(await screen.findByText(label));
  }

  it('renders the plugin-ui sections (description, connection, auth, TLS, headers) and ours, defaults as placeholders', () => {
    renderEditor(settings());
    expect(screen.getByRole('link', { name: 'view the documentation' })).toHaveAttribute('href', DOCS_URL);
    expect(screen.getByLabelText('Data source connection URL')).toHaveValue('http://prometheus:9090');
    for (const title of [
      'Connection',
      'Authentication',
      'TLS settings',
      'HTTP headers',
      'Additional settings',
      'Advanced HTTP settings',
      'Query limits',
    ]) {
      expect(screen.getByRole('heading', { name: title })).toBeInTheDocument();
    }
    expect(screen.getByLabelText('Skip TLS certificate validation')).not.toBeChecked();
    expect(screen.getByLabelText('Compress answers')).not.toBeChecked();
    expect(screen.getByRole('button', { name: /Add header/ })).toBeInTheDocument();
    expect(screen.getByLabelText('Query timeout')).toHaveAttribute('placeholder', '60s');
    expect(screen.getByLabelText('Max series')).toHaveAttribute('placeholder', '30000');
    expect(screen.getByLabelText('Max points per series')).toHaveAttribute('placeholder', '11000');
    expect(screen.getByLabelText('Max training rows')).toHaveAttribute('placeholder', '2000000');
    expect(screen.getByLabelText('Scrape interval')).toHaveAttribute('placeholder', '15s');
    expect(screen.getByLabelText('Forest cache TTL')).toHaveAttribute('placeholder', '15m');
    expect(screen.getByLabelText('Forest cache (MiB)')).toHaveAttribute('placeholder', '256');
    expect(screen.getByLabelText('Memory budget (MiB)')).toHaveAttribute('placeholder', '1024');
    // Neither the SDK's HTTP client timeout nor cookie forwarding is read by the backend: no fields for them.
    expect(screen.queryByLabelText('Timeout in seconds')).not.toBeInTheDocument();
    expect(screen.queryByText('Allowed cookies')).not.toBeInTheDocument();
  });

  it('offers exactly the methods the backend knows: basic, bearer, none', async () => {
    renderEditor(settings());
    expect(screen.getByText('No authentication')).toBeInTheDocument();
    await user.click(screen.getByLabelText('Authentication method'));
    const options = screen.getAllByRole('option').map((o) => o.textContent ?? '');
    expect(options).toHaveLength(3);
    expect(options.some((o) => o.startsWith('Basic authentication'))).toBe(true);
    expect(options.some((o) => o.startsWith('Bearer token'))).toBe(true);
    expect(options.some((o) => o.startsWith('No authentication'))).toBe(true);
    expect(options.some((o) => /OAuth|cross-site/i.test(o))).toBe(false);
  });

  it('writes the memory budget to jsonData.memoryBudgetMiB as a number, and absent when cleared', async () => {
    const { last } = renderEditor(settings());
    const budget = screen.getByLabelText('Memory budget (MiB)');
    await user.type(budget, '512');
    expect(last().jsonData.memoryBudgetMiB).toBe(512);
    await user.clear(budget);
    expect(last().jsonData.memoryBudgetMiB).toBeUndefined();
  });

  it('writes the URL to the top-level url and shows what is wrong with a bad one', async () => {
    const { last } = renderEditor(settings({ url: '' }));
    const url = screen.getByLabelText('Data source connection URL');
    await user.type(url, 'ftp://prometheus:9090');
    expect(screen.getByText('URL must start with http:// or https://')).toBeInTheDocument();
    await user.clear(url);
    await user.type(url, 'http://prom:9090');
    expect(screen.queryByText(/URL must/)).not.toBeInTheDocument();
    expect(last().url).toBe('http://prom:9090');
    expect(last().jsonData).toEqual({});
  });

  it('never echoes a stored bearer token: the field only says it is configured', () => {
    renderEditor(
      settings({
        jsonData: { authType: 'bearer' },
        secureJsonFields: { bearerToken: true },
      })
    );
    expect(screen.getByText('Bearer token')).toBeInTheDocument();
    const token = screen.getByLabelText('Bearer token value');
    expect(token).toHaveValue('configured');
    expect(token).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Reset' })).toBeInTheDocument();
  });

  it('keeps a typed secret in secureJsonData only, masked on screen', async () => {
    const { last } = renderEditor(settings({ jsonData: { authType: 'bearer' } }));
    const token = screen.getByLabelText('Bearer token value');
    expect(token).toHaveAttribute('type', 'password');
    await user.type(token, 's3cr3t-token');
    expect(last().secureJsonData).toEqual({ bearerToken: 's3cr3t-token' });
    expect(JSON.stringify(last().jsonData)).not.toContain('s3cr3t');
    expect(document.body.textContent).not.toContain('s3cr3t');
  });

  // Two trips through the method picker (a Select, whose menu is slow to render on a loaded host).
  it('basic auth: user at top level, password secret; switching method clears the other secret', async () => {
    const { last } = renderEditor(
      settings({ jsonData: { authType: 'bearer' }, secureJsonFields: { bearerToken: true } })
    );
    await chooseAuth('Basic authentication');
    expect(last().basicAuth).toBe(true);
    expect(last().jsonData.authType).toBe('basic');
    expect(last().secureJsonFields.bearerToken).toBe(false);
    expect(last().secureJsonData?.bearerToken).toBe('');
    await user.click(screen.getByLabelText(/^User/));
    await user.paste('grafana');
    await user.click(screen.getByLabelText(/^Password/));
    await user.paste('pw');
    expect(last().basicAuthUser).toBe('grafana');
    expect(last().secureJsonData?.basicAuthPassword).toBe('pw');
    expect(JSON.stringify(last().jsonData)).not.toContain('pw');
    expect(last().jsonData.authType).toBe('basic');

    await chooseAuth('No authentication');
    expect(last().jsonData.authType).toBe('none');
    expect(last().basicAuth).toBe(false);
    expect(last().basicAuthUser).toBe('');
    expect(last().secureJsonData?.basicAuthPassword).toBe('');
    expect(last().secureJsonFields.basicAuthPassword).toBe(false);
  }, 60_000);

  it('reads a provisioned basicAuth without authType as basic, as the backend does', () => {
    renderEditor(settings({ basicAuth: true, basicAuthUser: 'grafana' }));
    expect(screen.getByText('Basic authentication')).toBeInTheDocument();
    expect(screen.getByLabelText(/^User/)).toHaveValue('grafana');
  });

  it('shows a stored basic auth password as configured and resets it on request', async () => {
    const { last } = renderEditor(
      settings({
        basicAuth: true,
        basicAuthUser: 'grafana',
        jsonData: { authType: 'basic' },
        secureJsonFields: { basicAuthPassword: true },
      })
    );
    expect(screen.getByLabelText(/^Password/)).toHaveValue('configured');
    await user.click(screen.getByRole('button', { name: 'Reset' }));
    expect(last().secureJsonFields.basicAuthPassword).toBe(false);
    expect(screen.getByLabelText(/^Password/)).toHaveValue('');
  });

  it('stores limits as numbers and explains bad ones', async () => {
    const { last } = renderEditor(settings());
    const maxSeries = screen.getByLabelText('Max series');
    await user.type(maxSeries, '12x');
    expect(screen.getByText('Max series must be a whole number')).toBeInTheDocument();
    await user.clear(maxSeries);
    await user.type(maxSeries, '0');
    expect(screen.getByText('Max series must be between 1 and 10000000')).toBeInTheDocument();
    await user.clear(maxSeries);
    await user.type(maxSeries, '250');
    expect(screen.queryByText(/Max series must/)).not.toBeInTheDocument();
    expect(last().jsonData.maxSeries).toBe(250);
    const timeout = screen.getByLabelText('Query timeout');
    await user.type(timeout, '90 seconds');
    expect(screen.getByText('Query timeout must be a duration like 30s, 5m or 1h')).toBeInTheDocument();
    await user.clear(timeout);
    await user.type(timeout, '2m');
    expect(screen.queryByText(/Query timeout must/)).not.toBeInTheDocument();
    expect(last().jsonData.queryTimeout).toBe('2m');
    expect(last().jsonData.maxSeries).toBe(250);
  });

  it('adds custom headers as httpHeaderName<n> with secret httpHeaderValue<n>', async () => {
    const { last } = renderEditor(settings());
    await user.click(screen.getByRole('button', { name: /Add header/ }));
    await user.type(screen.getByLabelText('Header 1 name'), 'X-Scope-OrgID');
    await user.type(screen.getByLabelText('Header 1 value'), 'tenant-1');
    expect(last().jsonData.httpHeaderName1).toBe('X-Scope-OrgID');
    expect(last().secureJsonData?.httpHeaderValue1).toBe('tenant-1');
    expect(screen.getByLabelText('Header 1 value')).toHaveAttribute('type', 'password');
    await user.click(screen.getByRole('button', { name: /Add header/ }));
    expect(screen.getByText('header name is required')).toBeInTheDocument();
  });

  it('asks for a stored header value again when removing a header renumbers it', async () => {
    const { last } = renderEditor(
      settings({
        jsonData: { httpHeaderName1: 'X-A', httpHeaderName2: 'X-B' },
        secureJsonFields: { httpHeaderValue1: true, httpHeaderValue2: true },
      })
    );
    expect(screen.getByLabelText('Header 2 value')).toHaveValue('configured');
    await user.click(screen.getByRole('button', { name: 'Remove header 1' }));
    expect(last().jsonData.httpHeaderName1).toBe('X-B');
    expect(last().jsonData.httpHeaderName2).toBeUndefined();
    // X-B must not be sent with X-A's stored value: both numbers are unflagged (2 is deleted on save).
    expect(last().secureJsonFields.httpHeaderValue1).toBe(false);
    expect(last().secureJsonFields.httpHeaderValue2).toBe(false);
    expect(last().secureJsonData?.httpHeaderValue2).toBe('');
    const row = screen.getByLabelText('Header 1 value');
    expect(row).toHaveValue('');
    expect(screen.getByText('headers were renumbered: enter this value again')).toBeInTheDocument();
    expect(within(document.body).queryByLabelText('Header 2 name')).not.toBeInTheDocument();
  });

  it('writes the TLS options to the keys the SDK reads, certificates and key as secrets', async () => {
    const { last } = renderEditor(settings({ secureJsonFields: { tlsClientKey: true } }));
    await user.click(screen.getByLabelText('TLS Client Authentication'));
    expect(last().jsonData.tlsAuth).toBe(true);
    expect(screen.getByLabelText(/^Client Key/)).toHaveValue('configured');
    await user.type(screen.getByLabelText(/^Client Certificate/), 'CERT');
    expect(last().secureJsonData?.tlsClientCert).toBe('CERT');
    await user.click(screen.getByLabelText(/^ServerName/));
    await user.paste('prom.internal');
    expect(last().jsonData.serverName).toBe('prom.internal');
    await user.click(screen.getByLabelText('Add self-signed certificate'));
    expect(last().jsonData.tlsAuthWithCACert).toBe(true);
    await user.type(screen.getByLabelText(/^CA Certificate/), 'CA');
    expect(last().secureJsonData?.tlsCACert).toBe('CA');
    await user.click(screen.getByLabelText('Skip TLS certificate validation'));
    expect(last().jsonData.tlsSkipVerify).toBe(true);
    expect(JSON.stringify(last().jsonData)).not.toMatch(/CERT|"CA"/);
  });

  // The longest walk through the editor (twenty-odd changes, each re-rendering all of it): a longer timeout.
  it('writes only keys the backend reads (pkg/models/settings.go and the SDK HTTP client options)', async () => {
    const { last } = renderEditor(settings());
    // One change event per field (paste): what is checked is where each value lands, not typing.
    const fill = async (label: string, value: string) => {
      await user.click(screen.getByLabelText(label));
      await user.paste(value);
    };
    await chooseAuth('Bearer token');
    await fill('Bearer token value', 't');
    await user.click(screen.getByLabelText('Compress answers'));
    await user.click(screen.getByLabelText('Skip TLS certificate validation'));
    await user.click(screen.getByRole('button', { name: /Add header/ }));
    await fill('Header 1 name', 'X-Scope-OrgID');
    await fill('Header 1 value', 'v');
    for (const [label, value] of [
      ['Query timeout', '2m'],
      ['Scrape interval', '30s'],
      ['Forest cache TTL', '5m'],
      ['Max series', '10'],
      ['Max points per series', '20'],
      ['Max training rows', '30'],
      ['Forest cache (MiB)', '40'],
      ['Memory budget (MiB)', '50'],
    ]) {
      await fill(label, value);
    }
    expect(last().jsonData).toEqual({
      authType: 'bearer',
      gzip: true,
      tlsSkipVerify: true,
      httpHeaderName1: 'X-Scope-OrgID',
      queryTimeout: '2m',
      scrapeInterval: '30s',
      cacheTTL: '5m',
      maxSeries: 10,
      maxPointsPerSeries: 20,
      maxTrainingRows: 30,
      cacheMaxMiB: 40,
      memoryBudgetMiB: 50,
    });
    expect(last().secureJsonData).toEqual({
      basicAuthPassword: '',
      bearerToken: 't',
      httpHeaderValue1: 'v',
    });
    expect(last().basicAuth).toBe(false);
  }, 60_000);

  it('rejects an Authorization header when an auth method sets it', async () => {
    renderEditor(settings({ jsonData: { authType: 'bearer', httpHeaderName1: 'Authorization' } }));
    expect(screen.getByText('Authorization is set by the authentication method above')).toBeInTheDocument();
  });
});
