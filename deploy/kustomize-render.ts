// Renders deploy/k8s/kustomization.yaml without kubectl, for the tests of machines that lack it: the
// features that file uses (resources, namespace, configMapGenerator with generatorOptions, images) and
// no other. A field it does not know is refused, so a kustomization that grows past it fails a test
// instead of rendering wrong; where kubectl exists the test also compares this with `kubectl kustomize`.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  generatorOptions?: { disableNameSuffixHash?: boolean; labels?: Record<string, string> };
  configMapGenerator?: { name: string; files?: string[]; literals?: string[]; options?: { labels?: Record<string, string>; disableNameSuffixHash?: boolean } }[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
}

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'generatorOptions', 'configMapGenerator', 'images']);
/** Kinds without a namespace among those a shardflow deployment might hold. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass', 'PersistentVolume']);

export function renderKustomization(dir: string): KubeObject[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const unknown = Object.keys(k).filter((f) => !KNOWN_FIELDS.has(f));
  if (unknown.length > 0) throw new Error(`deploy/kustomize-render.ts does not render ${unknown.join(', ')}: teach it, or render with kubectl kustomize`);
  const objects: KubeObject[] = [];
  for (const resource of k.resources ?? []) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, resource), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${resource}: ${doc.errors[0]!.message}`);
      const object = doc.toJS() as KubeObject | null;
      if (object !== null) objects.push(object);
    }
  }
  for (const generator of k.configMapGenerator ?? []) {
    if (generator.options?.disableNameSuffixHash === false || (k.generatorOptions?.disableNameSuffixHash !== true && generator.options?.disableNameSuffixHash !== true)) {
      throw new Error(`configMapGenerator ${generator.name}: names with a hash suffix are not rendered here`);
    }
    const data: Record<string, string> = {};
    for (const file of generator.files ?? []) data[basename(file)] = readFileSync(join(dir, file), 'utf8');
    for (const literal of generator.literals ?? []) data[literal.slice(0, literal.indexOf('='))] = literal.slice(literal.indexOf('=') + 1);
    const labels = { ...k.generatorOptions?.labels, ...generator.options?.labels };
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: generator.name, ...(Object.keys(labels).length > 0 && { labels }) }, data });
  }
  for (const object of objects) {
    if (k.namespace !== undefined && !CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = k.namespace;
    for (const container of podContainers(object)) {
      const image = (k.images ?? []).find((i) => imageName(container.image) === i.name);
      if (image === undefined) continue;
      const tag = image.digest !== undefined ? `@${image.digest}` : image.newTag !== undefined ? `:${image.newTag}` : imageTag(container.image);
      container.image = `${image.newName ?? image.name}${tag}`;
    }
  }
  return objects;
}

/** The containers of a workload's pod template (or of a Pod). */
export function podContainers(object: KubeObject): { name: string; image: string; [field: string]: unknown }[] {
  const spec = object.kind === 'Pod' ? (object.spec as PodSpecLike | undefined) : (object.spec as { template?: { spec?: PodSpecLike } } | undefined)?.template?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

interface PodSpecLike {
  containers?: { name: string; image: string }[];
  initContainers?: { name: string; image: string }[];
}

function imageName(image: string): string {
  return image.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
}

function imageTag(image: string): string {
  return image.slice(imageName(image).length);
}
