// Loaded into each local worker (--require, local/step-functions.ts). A Fargate task's output goes to its
// log driver, which does not die with the task's Step Functions execution; locally it goes through a pipe
// to the step-functions process. When that process is killed and its workers left running (the drill's
// orphaned workers, local/region-control.ts), a write to the pipe fails (EPIPE) and would end the worker:
// its lines are dropped instead, and it runs on, as in ECS.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
