/**
 * What deleting a stack leaves behind, read from the template itself (the deployed one, or in a dry run the
 * packaged one), so `npm run remove` says what is true: every resource whose DeletionPolicy keeps it.
 * Today that is the global tables (west; DeletionProtectionEnabled on each replica as well), each region's
 * staging bucket with its objects, the region's KMS key and the worker's image repository
 * (resources/tables.yml, buckets.yml, kms.yml, ecr.yml).
 */
import { parse } from 'yaml';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON is untyped
type Json = any;

export interface RetainedResource {
  logicalId: string;
  type: string;
  /** The physical name as the template gives it (with ${AWS::…} left for what only AWS knows). */
  name: string;
  /** What the operator should know about it. */
  note: string;
}

const KEEPS = new Set(['Retain', 'RetainExceptOnCreate']);

/** A template body as CloudFormation returns it (JSON, or YAML for a hand-written one). */
export function parseTemplate(body: string): { Resources?: Record<string, Json> } {
  try {
    return JSON.parse(body);
  } catch {
    return parse(body);
  }
}

function render(value: Json, region: string): string {
  if (typeof value === 'string') return value;
  const sub = value?.['Fn::Sub'];
  const text = typeof sub === 'string' ? sub : Array.isArray(sub) && typeof sub[0] === 'string' ? sub[0] : undefined;
  if (text === undefined) return '';
  return text.replaceAll(`\${AWS::Region}`, region).replaceAll(`\${AWS::AccountId}`, '<account>');
}

function describe(logicalId: string, resource: Json, region: string): RetainedResource {
  const p = resource.Properties ?? {};
  const type: string = resource.Type;
  switch (type) {
    case 'AWS::DynamoDB::GlobalTable': {
      const replicas: Json[] = p.Replicas ?? [];
      const protectedIn = replicas.filter((r) => r.DeletionProtectionEnabled).map((r) => r.Region);
      return {
        logicalId,
        type,
        name: render(p.TableName, region),
        note: `DynamoDB global table, replicas in ${replicas.map((r) => r.Region).join(' and ')}${
          protectedIn.length ? ` (deletion protection on in ${protectedIn.join(' and ')})` : ''
        }`,
      };
    }
    case 'AWS::DynamoDB::Table':
      return { logicalId, type, name: render(p.TableName, region), note: 'DynamoDB table' };
    case 'AWS::S3::Bucket':
      return { logicalId, type, name: render(p.BucketName, region), note: 'S3 bucket, with every object and version in it' };
    case 'AWS::KMS::Key':
      return {
        logicalId,
        type,
        name: logicalId,
        note:
          'KMS key (what is kept above is encrypted with it: schedule its deletion, aws kms schedule-key-deletion, ' +
          'only once nothing kept needs it)',
      };
    case 'AWS::ECR::Repository':
      return { logicalId, type, name: render(p.RepositoryName, region), note: 'ECR repository' };
    default:
      return { logicalId, type, name: logicalId, note: type };
  }
}

/** The resources of a template that outlive its stack. */
export function retainedResources(template: { Resources?: Record<string, Json> }, region: string): RetainedResource[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, resource]) => KEEPS.has(resource?.DeletionPolicy))
    .map(([logicalId, resource]) => describe(logicalId, resource, region))
    .sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
}
