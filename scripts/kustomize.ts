// `node scripts/kustomize.ts DIR`: prints what `kustomize build DIR` prints for the subset of
// kustomization.yaml that ops/k8s/ uses: `resources` (files, or directories with their own
// kustomization), `namespace`, `labels` (metadata only) and `images`. No kustomize binary can be
// installed here and npm has no maintained port, so this is the minimal resolution; any other key
// fails loudly rather than being ignored. Production renders with the real kustomize (kubectl -k).
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

type Kustomization = {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string }[];
};

const SUPPORTED = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'labels', 'images']);
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
]);

function readYaml(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    if (doc.errors.length) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    return doc.toJS();
  });
}

export function build(dir: string): Manifest[] {
  const [kustomization] = readYaml(join(dir, 'kustomization.yaml')) as [Kustomization];
  const unsupported = Object.keys(kustomization).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length)
    throw new Error(`${dir}: unsupported kustomization keys: ${unsupported.join(', ')}`);
  if (kustomization.labels?.some((label) => label.includeSelectors)) {
    throw new Error(`${dir}: labels with includeSelectors are not supported`);
  }

  const manifests: Manifest[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(dir, resource);
    if (statSync(path).isDirectory()) manifests.push(...build(path));
    else manifests.push(...(readYaml(path).filter(Boolean) as Manifest[]));
  }

  for (const manifest of manifests) {
    if (kustomization.namespace && !CLUSTER_SCOPED.has(manifest.kind)) {
      manifest.metadata.namespace = kustomization.namespace;
    }
    for (const label of kustomization.labels ?? []) {
      manifest.metadata.labels = { ...manifest.metadata.labels, ...label.pairs };
    }
    for (const container of podContainers(manifest)) {
      for (const image of kustomization.images ?? []) {
        const [name, tag] = container.image.split(':');
        if (name !== image.name) continue;
        container.image = `${image.newName ?? name}:${image.newTag ?? tag ?? 'latest'}`;
      }
    }
  }
  const seen = new Set<string>();
  for (const m of manifests) {
    const id = `${m.apiVersion}/${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;
    if (seen.has(id)) throw new Error(`duplicate resource ${id}`);
    seen.add(id);
  }
  return manifests;
}

type Container = { name: string; image: string; [key: string]: unknown };

/** The containers of a Deployment, Job, … (a pod template), or none. */
export function podContainers(manifest: Manifest): Container[] {
  const spec = manifest.spec as {
    template?: { spec?: { containers?: Container[]; initContainers?: Container[] } };
  };
  return [...(spec?.template?.spec?.containers ?? []), ...(spec?.template?.spec?.initContainers ?? [])];
}

if (import.meta.main) {
  const dir = process.argv[2] ?? join(dirname(import.meta.dirname), 'ops/k8s');
  process.stdout.write(
    build(dir)
      .map((m) => stringify(m))
      .join('---\n'),
  );
}
