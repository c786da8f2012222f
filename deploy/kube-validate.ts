// Validates rendered Kubernetes objects offline, two ways:
// - against their schemas: the Kubernetes OpenAPI schemas (kubernetes-models) and the CRD schemas of
//   the Prometheus Operator and KEDA (@kubernetes-models/prometheus-operator, @kubernetes-models/keda),
//   which check types, required fields and enums;
// - against the same packages' TypeScript types, which also refuse a field the kind does not have
//   (those schemas let unknown fields through, as the API server does with a mere warning: a
//   `readinesProbe` would be dropped without a word).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { KubeObject } from './kustomize-render.ts';

interface Kind {
  /** Validates against the schema; throws naming the path of what is wrong. */
  validate(object: KubeObject): void;
  /** The module and interface of its TypeScript type. */
  readonly module: string;
  readonly type: string;
}

const kind = <T>(model: new (data: T) => { validate(): void }, module: string, type: string): Kind => ({
  validate: (object) => new model(object as T).validate(),
  module,
  type,
});

/** Every apiVersion/kind a shardflow deployment renders; another is refused until it is added here. */
const KINDS: Readonly<Record<string, Kind>> = {
  'v1/Namespace': kind(Namespace, 'kubernetes-models/v1/Namespace', 'INamespace'),
  'v1/ConfigMap': kind(ConfigMap, 'kubernetes-models/v1/ConfigMap', 'IConfigMap'),
  'apps/v1/Deployment': kind(Deployment, 'kubernetes-models/apps/v1/Deployment', 'IDeployment'),
  'policy/v1/PodDisruptionBudget': kind(PodDisruptionBudget, 'kubernetes-models/policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'),
  'networking.k8s.io/v1/NetworkPolicy': kind(NetworkPolicy, 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy', 'INetworkPolicy'),
  'monitoring.coreos.com/v1/PodMonitor': kind(PodMonitor, '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor', 'IPodMonitor'),
  'keda.sh/v1alpha1/ScaledObject': kind(ScaledObject, '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject', 'IScaledObject'),
};

const describe = (o: KubeObject) => `${o.kind} ${o.metadata?.name ?? '(no name)'}`;

/** What is wrong with each object against its schema, one line each; empty when all are valid. */
export function schemaProblems(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    const k = KINDS[`${object.apiVersion}/${object.kind}`];
    if (k === undefined) {
      problems.push(`${describe(object)}: no schema for ${object.apiVersion} ${object.kind} (add it to deploy/kube-validate.ts)`);
      continue;
    }
    try {
      k.validate(object);
    } catch (err) {
      problems.push(`${describe(object)}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/**
 * What the TypeScript compiler says of each object as a literal of its kind's type, one line each:
 * unknown fields above all. `scratch` is a folder inside the project, so the packages resolve.
 */
export function typeProblems(objects: readonly KubeObject[], scratch: string): string[] {
  const dir = mkdtempSync(join(scratch, 'kube-types-'));
  try {
    const file = join(dir, 'objects.ts');
    const used = objects.map((o) => KINDS[`${o.apiVersion}/${o.kind}`]).filter((k): k is Kind => k !== undefined);
    const imports = [...new Set(used.map((k) => `import type { ${k.type} } from '${k.module}';`))];
    const literals = objects.map((o, i) => {
      const k = KINDS[`${o.apiVersion}/${o.kind}`];
      return k === undefined ? '' : `// ${describe(o)}\nexport const o${i}: ${k.type} = ${JSON.stringify(o, null, 2)};`;
    });
    writeFileSync(file, `${imports.join('\n')}\n${literals.join('\n')}\n`);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      types: [],
    });
    const text = program.getSourceFile(file)!.text;
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (d.file === undefined || d.start === undefined) return message;
      // Name the object the error is in: the nearest `// Kind name` comment above it.
      const before = text.slice(0, d.start);
      const owner = before.slice(before.lastIndexOf('\n// ') + 4).split('\n')[0];
      return `${owner}: ${message.split('\n').at(-1)}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
