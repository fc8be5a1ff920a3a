/** The two region stacks of a stage, as the region files name them (serverless.west.yml, serverless.east.yml). */
export const REGIONS = { west: 'us-gov-west-1', east: 'us-gov-east-1' } as const;
export type RegionKey = keyof typeof REGIONS;
export const REGION_KEYS = Object.keys(REGIONS) as RegionKey[];

/** The CloudFormation stack osls deploys for a stage (service eft, osls' <service>-<stage>). */
export const stackName = (stage: string) => `eft-${stage}`;
/** The worker's image repository of a stage (serverless.yml custom.worker.repository, resources/ecr.yml). */
export const repositoryName = (stage: string) => `eft-${stage}-worker`;
/** GovCloud's partition for ARNs (the stacks build theirs from ${AWS::Partition}). */
export const partitionOf = (region: string) => (region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws');
