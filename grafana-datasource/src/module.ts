import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { AnomalyDataSourceOptions, AnomalyQuery, AnomalySecureJsonData } from './types';

export const plugin = new DataSourcePlugin<DataSource, AnomalyQuery, AnomalyDataSourceOptions, AnomalySecureJsonData>(
  DataSource
)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
