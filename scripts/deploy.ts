/**
 * npm run deploy -- --stage <stage> [--region west|east] [--dry-run|--noDeploy] [--vpc create|existing …]
 * Builds the worker image, pushes it to each region's ECR repository and deploys the region stacks in the
 * order they need (scripts/deploy/plan.ts). README "Deploying".
 */
import { parseDeployArgs } from './deploy/args';
import { runScript } from './deploy/main';
import { deploy } from './deploy/run';

runScript('deploy', parseDeployArgs, deploy);
