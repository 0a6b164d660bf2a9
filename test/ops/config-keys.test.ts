// The collector, Loki and Tempo configurations use only the components and keys of the versions
// ops/compose.observability.yml pins (lists in ops/config-keys.yml, taken from those versions' docs);
// the collector's pipelines reference only components it defines, and it defines none it does not use.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { path, readYaml } from './support.ts';

type Allowed = {
  version: string;
  keys: string[];
  operators?: string[];
  components?: Record<string, string[]>;
  removed?: string[];
};
const allowed = readYaml<Record<'otel-collector' | 'loki' | 'tempo', Allowed>>('ops/config-keys.yml');

/** Every key path of a parsed YAML document: maps by key, list items as `[]`; leaves and lists of scalars end a path. */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) return [prefix];
    return value.flatMap((item) => keyPaths(item, `${prefix}[]`));
  }
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, v]) => keyPaths(v, prefix ? `${prefix}.${key}` : key));
  }
  return [prefix];
}

/** A component id's type: `otlp_grpc/tempo` → `otlp_grpc`. */
const typeOf = (id: string) => id.split('/')[0]!;

function matches(pattern: string, key: string) {
  const regex = new RegExp(`^${pattern.replace(/[.[\]]/g, (c) => `\\${c}`).replace(/\*/g, '[^.\\[\\]]+')}$`);
  return regex.test(key);
}

function unknownKeys(config: unknown, list: Allowed, normalize = (k: string) => k) {
  return [...new Set(keyPaths(config).map(normalize))].filter((k) => !list.keys.some((p) => matches(p, k)));
}

describe('otel-collector config', () => {
  const config = readYaml<any>('ops/otel-collector/config.yaml');
  const list = allowed['otel-collector'];
  const kinds = ['receivers', 'processors', 'exporters', 'extensions'] as const;

  const normalize = (key: string) =>
    key.replace(
      /^(receivers|processors|exporters|extensions)\.([^.]+)/,
      (_, kind, id) => `${kind}.${typeOf(id)}`,
    );

  it('uses only keys of the pinned version (component ids reduced to their type)', () => {
    expect(unknownKeys(config, list, normalize)).toEqual([]);
  });

  it.each(kinds)('defines only %s whose type the pinned version has', (kind) => {
    const types = Object.keys(config[kind] ?? {}).map(typeOf);
    expect(types.filter((t) => !list.components![kind]!.includes(t))).toEqual([]);
  });

  it('references only defined components from the pipelines, and uses every defined one', () => {
    const used = new Set<string>(config.service.extensions.map((e: string) => `extensions:${e}`));
    for (const [name, pipeline] of Object.entries<Record<string, string[]>>(config.service.pipelines)) {
      expect(['traces', 'logs', 'metrics'], name).toContain(typeOf(name));
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        for (const id of pipeline[kind] ?? []) {
          expect(Object.keys(config[kind] ?? {}), `${name} → ${kind} ${id}`).toContain(id);
          used.add(`${kind}:${id}`);
        }
      }
    }
    const defined = kinds.flatMap((kind) => Object.keys(config[kind] ?? {}).map((id) => `${kind}:${id}`));
    expect(defined.filter((d) => !used.has(d))).toEqual([]);
  });

  it('uses only filelog operators of the pinned version', () => {
    const types = (config.receivers.filelog.operators as { type: string }[]).map((o) => o.type);
    expect(types.filter((t) => !list.operators!.includes(t))).toEqual([]);
  });

  it('ships logs from container stdout (the app sends none over OTLP), lifting trace ids for the log → trace link', () => {
    expect(config.service.pipelines.logs.receivers).toEqual(['filelog']);
    const types = (config.receivers.filelog.operators as { type: string }[]).map((o) => o.type);
    expect(types).toEqual(expect.arrayContaining(['container', 'json_parser', 'filter', 'trace_parser']));
  });

  it('puts memory_limiter first in every pipeline and sends traces to Tempo, logs to Loki over OTLP', () => {
    for (const pipeline of Object.values<Record<string, string[]>>(config.service.pipelines)) {
      expect(pipeline.processors?.[0]).toBe('memory_limiter');
    }
    expect(config.service.pipelines.traces.exporters).toEqual(['otlp_grpc/tempo']);
    expect(config.exporters['otlp_grpc/tempo'].endpoint).toBe('tempo:4317');
    expect(config.service.pipelines.logs.exporters).toEqual(['otlp_http/loki']);
    expect(config.exporters['otlp_http/loki'].endpoint).toBe('http://loki:3100/otlp');
  });

  it('rejects an unknown key and a deprecated component name (the check can fail)', () => {
    const broken = {
      ...config,
      exporters: { ...config.exporters, 'otlp_grpc/x': { endpont: 'x' }, otlp: {} },
    };
    expect(unknownKeys(broken, list, normalize)).toEqual(['exporters.otlp_grpc.endpont']);
    expect(
      Object.keys(broken.exporters)
        .map(typeOf)
        .filter((t) => !list.components!.exporters!.includes(t)),
    ).toEqual(['otlp']);
  });
});

describe('loki config', () => {
  const config = readYaml<any>('ops/loki/config.yaml');

  it('uses only keys of the pinned version', () => {
    expect(unknownKeys(config, allowed.loki)).toEqual([]);
  });

  it('is a single binary on TSDB with schema v13 and structured metadata (trace_id lives there)', () => {
    expect(config.schema_config.configs.at(-1)).toMatchObject({ store: 'tsdb', schema: 'v13' });
    expect(config.limits_config.allow_structured_metadata).toBe(true);
    expect(config.common.replication_factor).toBe(1);
  });
});

describe('tempo config', () => {
  const config = readYaml<any>('ops/tempo/config.yaml');

  it('uses only keys of the pinned version', () => {
    expect(unknownKeys(config, allowed.tempo)).toEqual([]);
  });

  it('has none of the blocks Tempo 3 removed, and writes span metrics to Prometheus with exemplars', () => {
    expect(Object.keys(config).filter((k) => allowed.tempo.removed!.includes(k))).toEqual([]);
    expect(config.overrides.defaults.metrics_generator.processors).toContain('span-metrics');
    expect(config.overrides.defaults.metrics_generator.processors).not.toContain('local-blocks');
    expect(config.metrics_generator.storage.remote_write[0]).toEqual({
      url: 'http://prometheus:9090/api/v1/write',
      send_exemplars: true,
    });
  });
});

describe('compose.observability.yml', () => {
  const compose = readYaml<any>('ops/compose.observability.yml');
  const header = readFileSync(path('ops/compose.observability.yml'), 'utf8');

  it('pins the versions whose keys ops/config-keys.yml lists, and states them', () => {
    const images = Object.fromEntries(
      Object.entries<{ image: string }>(compose.services).map(([name, s]) => [name, s.image]),
    );
    for (const image of Object.values(images)) {
      expect(image).toMatch(/:v?\d+\.\d+\.\d+$/);
      const [repo, tag] = image.split(':');
      expect(header).toContain(`${repo} ${tag}`);
    }
    expect(images['otel-collector']).toBe(allowed['otel-collector'].version.replace(' ', ':'));
    expect(images.loki).toBe(allowed.loki.version.replace(' ', ':'));
    expect(images.tempo).toBe(allowed.tempo.version.replace(' ', ':'));
  });

  it('runs every service in the observability profile, hardened: read-only, no capabilities, non-root, limited', () => {
    for (const [name, service] of Object.entries<any>(compose.services)) {
      expect(service.profiles, name).toEqual(['observability']);
      expect(service.read_only, name).toBe(true);
      expect(service.cap_drop, name).toEqual(['ALL']);
      expect(service.security_opt, name).toContain('no-new-privileges:true');
      // The collector reads Docker's root-owned log files as uid 0, with no capability (see the file).
      expect(service.user, name).toMatch(name === 'otel-collector' ? /^0:0$/ : /^[1-9]\d*:\d+$/);
      expect(service.deploy.resources.limits, name).toMatchObject({
        memory: expect.any(String),
        cpus: expect.any(String),
      });
    }
  });
});
