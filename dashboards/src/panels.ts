// Small builders over the Grafana Foundation SDK so each dashboard file reads as a list of questions
// and the queries that answer them. Every panel names its datasource by the fixed uid of
// ops/grafana/provisioning/datasources/datasources.yaml.
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  RowBuilder,
} from '@grafana/grafana-foundation-sdk/dashboard';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as loki from '@grafana/grafana-foundation-sdk/loki';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as tempo from '@grafana/grafana-foundation-sdk/tempo';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DASHBOARD_UIDS, DATASOURCES } from './links.ts';

/** PromQL over the app's own metrics (exemplars on: a point links to its trace in Tempo). */
export function prom(expr: string, legend = '', refId = 'A') {
  return new prometheus.DataqueryBuilder()
    .datasource(DATASOURCES.prometheus)
    .expr(expr)
    .legendFormat(legend || '__auto')
    .exemplar(true)
    .range()
    .refId(refId);
}

export function logql(expr: string, refId = 'A') {
  return new loki.DataqueryBuilder().datasource(DATASOURCES.loki).expr(expr).refId(refId);
}

export function traceql(query: string, refId = 'A') {
  return new tempo.DataqueryBuilder()
    .datasource(DATASOURCES.tempo)
    .queryType('traceql')
    .query(query)
    .limit(20)
    .tableType(tempo.SearchTableType.Traces)
    .refId(refId);
}

type Query = cog.Builder<cog.Dataquery>;

export function graph(title: string, description: string, unit: string, ...targets: Query[]) {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCES.prometheus)
    .unit(unit)
    .targets(targets)
    .height(8)
    .span(12);
}

export function single(title: string, description: string, unit: string, target: Query) {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCES.prometheus)
    .unit(unit)
    .withTarget(target)
    .height(5)
    .span(6);
}

export function logPanel(title: string, description: string, target: Query) {
  return new logs.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCES.loki)
    .withTarget(target)
    .showTime(true)
    .enableLogDetails(true)
    .wrapLogMessage(true)
    .height(10)
    .span(24);
}

export function logRate(title: string, description: string, target: Query) {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCES.loki)
    .unit('short')
    .withTarget(target)
    .height(8)
    .span(12);
}

export function traceTable(title: string, description: string, target: Query) {
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCES.tempo)
    .withTarget(target)
    .height(10)
    .span(12);
}

export const row = (title: string) => new RowBuilder(title);

/** Every dashboard: fixed uid, tagged `stowage`, a drop-down of the other Stowage dashboards. */
export function dashboard(uid: string, title: string, description: string) {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['stowage'])
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('utc')
    .readonly()
    .link(
      new DashboardLinkBuilder('Stowage dashboards')
        .type(DashboardLinkType.Dashboards)
        .tags(['stowage'])
        .asDropdown(true)
        .includeVars(false)
        .keepTime(true),
    );
}

export { DASHBOARD_UIDS };
