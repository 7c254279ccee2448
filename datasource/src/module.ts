import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './ConfigEditor';
import { DataSource } from './datasource';
import { QueryEditor } from './QueryEditor';
import { KizashiOptions, KizashiQuery } from './types';

export const plugin = new DataSourcePlugin<DataSource, KizashiQuery, KizashiOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
