import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { DataSource } from './datasource';
import { QueryEditor } from './components/QueryEditor';
import { KizashiOptions, KizashiQuery } from './types';

export const plugin = new DataSourcePlugin<DataSource, KizashiQuery, KizashiOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
