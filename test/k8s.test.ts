// ops/k8s/: the kustomize output (scripts/kustomize.ts) is what is validated, every manifest against
// the Kubernetes JSON schemas of the `kubernetes-models` package, then against this project's policy.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { build, type Manifest, podContainers } from '../scripts/kustomize.ts';
import { ROOT } from './support/docker.ts';

const manifests = build(join(ROOT, 'ops/k8s'));
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const named = (kind: string, name: string) => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} missing`);
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field with expect()
  return found as any;
};

/** The kubernetes-models class of a manifest, e.g. apps/v1 Deployment → kubernetes-models/apps/v1/Deployment. */
async function validate(manifest: Manifest): Promise<void> {
  const module = await import(/* @vite-ignore */ `kubernetes-models/${manifest.apiVersion}/${manifest.kind}`);
  const Model = module[manifest.kind] as new (data: unknown) => { validate(): void };
  new Model(structuredClone(manifest)).validate();
}

describe('ops/k8s (kustomize base)', () => {
  it('renders the expected resources', () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'ConfigMap/stowage-config',
      'Deployment/stowage-api',
      'Deployment/stowage-worker',
      'HorizontalPodAutoscaler/stowage-api',
      'Job/stowage-migrate',
      'Namespace/stowage',
      'NetworkPolicy/stowage-api-from-ingress',
      'NetworkPolicy/stowage-default-deny',
      'NetworkPolicy/stowage-metrics-from-monitoring',
      'PodDisruptionBudget/stowage-api',
      'PodDisruptionBudget/stowage-worker',
      'Service/stowage-api',
      'Service/stowage-metrics',
      'ServiceAccount/stowage',
    ]);
    for (const m of manifests) {
      if (m.kind !== 'Namespace') expect(m.metadata.namespace, m.metadata.name).toBe('stowage');
      expect(m.metadata.labels?.['app.kubernetes.io/part-of']).toBe('stowage');
    }
  });

  it('every rendered manifest validates against the Kubernetes schemas', async () => {
    for (const manifest of manifests) {
      await expect(validate(manifest), `${manifest.kind}/${manifest.metadata.name}`).resolves.toBeUndefined();
    }
  });

  it('the validator rejects a broken manifest (so the check above can fail)', async () => {
    const broken = structuredClone(named('Deployment', 'stowage-api'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    delete broken.spec.selector;
    await expect(validate(broken)).rejects.toThrow(/containerPort must be integer|selector/);
  });

  it('pods: non-root, read-only root, no capabilities, RuntimeDefault seccomp, resources, the shared commands', () => {
    const commands: Record<string, string[]> = {
      'stowage-api': ['node', '--max-semi-space-size=8', 'dist/main.js'],
      'stowage-worker': ['node', 'dist/worker.js'],
      'stowage-migrate': ['node', 'dist/migrate.js'],
    };
    const workloads = [...byKind('Deployment'), ...byKind('Job')];
    expect(workloads).toHaveLength(3);
    for (const workload of workloads) {
      // biome-ignore lint/suspicious/noExplicitAny: see named()
      const pod = (workload as any).spec.template.spec;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of podContainers(workload)) {
        expect(container.image).toBe('stowage:0.1.0');
        expect(container.command).toEqual(commands[workload.metadata.name]);
        expect(container.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources).toMatchObject({
          requests: { cpu: expect.any(String), memory: expect.any(String) },
          limits: { cpu: expect.any(String), memory: expect.any(String) },
        });
        expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
      }
    }
  });

  it('probes: api on livez/readyz/startupz of its public port, worker on its metrics port; grace above the drain', () => {
    const api = named('Deployment', 'stowage-api').spec.template.spec;
    const [apiContainer] = api.containers;
    expect(apiContainer.startupProbe.httpGet).toEqual({ path: '/startupz', port: 'http' });
    expect(apiContainer.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'http' });
    expect(apiContainer.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(apiContainer.ports).toContainEqual({ name: 'http', containerPort: 3000, protocol: 'TCP' });
    const config = named('ConfigMap', 'stowage-config').data;
    const drainS = (Number(config.SHUTDOWN_DELAY_MS) + Number(config.SHUTDOWN_TIMEOUT_MS)) / 1000;
    expect(api.terminationGracePeriodSeconds).toBeGreaterThan(drainS);
    expect(apiContainer.envFrom).toEqual([
      { configMapRef: { name: 'stowage-config' } },
      { secretRef: { name: 'stowage-secrets' } },
    ]);

    const [worker] = named('Deployment', 'stowage-worker').spec.template.spec.containers;
    expect(worker.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'metrics' });
    expect(worker.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(worker.ports).toEqual([
      { name: 'metrics', containerPort: Number(config.METRICS_PORT), protocol: 'TCP' },
    ]);

    const job = named('Job', 'stowage-migrate').spec.template.spec;
    expect(job.restartPolicy).toBe('Never');
    expect(job.containers[0].env).toEqual([
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'stowage-secrets', key: 'DATABASE_URL' } } },
    ]);
  });

  it('services, HPA and PDBs select the pods that exist; only http is exposed to the ingress', () => {
    const podLabels = (name: string) => named('Deployment', name).spec.template.metadata.labels;
    const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([key, value]) => labels[key] === value);
    const api = named('Service', 'stowage-api');
    expect(matches(api.spec.selector, podLabels('stowage-api'))).toBe(true);
    expect(api.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    expect(named('HorizontalPodAutoscaler', 'stowage-api').spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'stowage-api',
    });
    expect(
      matches(
        named('PodDisruptionBudget', 'stowage-api').spec.selector.matchLabels,
        podLabels('stowage-api'),
      ),
    ).toBe(true);
    expect(
      matches(
        named('PodDisruptionBudget', 'stowage-worker').spec.selector.matchLabels,
        podLabels('stowage-worker'),
      ),
    ).toBe(true);
    const ingress = named('NetworkPolicy', 'stowage-api-from-ingress').spec.ingress;
    expect(ingress).toEqual([expect.objectContaining({ ports: [{ port: 'http', protocol: 'TCP' }] })]);
    expect(named('NetworkPolicy', 'stowage-default-deny').spec.policyTypes).toEqual(['Ingress', 'Egress']);
  });

  it('the renderer refuses kustomization keys it does not implement', () => {
    expect(() => build(join(ROOT, 'test/fixtures/k8s-unsupported'))).toThrow(
      /unsupported kustomization keys: patches/,
    );
  });
});
