/**
 * npm run remove -- --stage <stage> [--region west|east] [--dry-run|--noDeploy]
 * Removes the stage's region stacks (east, then west) and says what the templates keep (scripts/deploy/retained.ts).
 */
import { parseRemoveArgs } from './deploy/args';
import { runScript } from './deploy/main';
import { remove } from './deploy/run';

runScript('remove', parseRemoveArgs, remove);
