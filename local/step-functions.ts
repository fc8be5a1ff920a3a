import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../fargate-worker/runtime';
import { loadHandler } from './handlers';
import type { ServiceConfig } from './service-config';

type TaskHandler = (input: unknown) => Promise<unknown>;
type LambdaHandler = (event: unknown, context: unknown) => Promise<unknown>;

const ECS_RUN_TASK = /^arn:[^:]*:states:::ecs:runTask(\.sync)?$/;
/** CloudFormation's partition placeholder, as it stands in the definition. */
const PARTITION = '$' + '{AWS::Partition}';

/** Local ARNs, in the GovCloud partition like the real ones. */
export const localStateMachineArn = (region: string, name: string) =>
  `arn:aws-us-gov:states:${region}:000000000000:stateMachine:${name}`;
const localFunctionArn = (region: string, name: string) => `arn:aws-us-gov:lambda:${region}:000000000000:function:${name}`;

interface PreparedMachine {
  name: string;
  definition: StateMachineDefinition;
  /** Task state name → the serverless function (by name) or the ECS worker it runs. */
  tasks: Record<string, { kind: 'lambda'; functionName: string } | { kind: 'ecs' }>;
}

/**
 * The deployed definition with CloudFormation's parts replaced by what a local
 * interpreter can take: `Fn::GetAtt [fn, Arn]` resources become local Lambda
 * ARNs (mapped back to the same handler modules), `${AWS::Partition}` the
 * GovCloud partition, and ECS cluster/task-definition references placeholders
 * (the local ECS launcher ignores them). The states, choices, retries and
 * catches are exactly the deployed ones.
 */
export function prepareStateMachine(config: ServiceConfig, id: string, region: string): PreparedMachine {
  const machine = config.stepFunctions?.stateMachines?.[id];
  if (!machine) throw new Error(`no state machine ${id} in the service config`);
  const name = machine.name ?? id;
  const tasks: PreparedMachine['tasks'] = {};
  const replaceIntrinsics = (value: unknown): unknown => {
    if (typeof value === 'string') return value.replace(PARTITION, 'aws-us-gov');
    if (Array.isArray(value)) return value.map(replaceIntrinsics);
    if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const getAtt = record['Fn::GetAtt'] as string[] | undefined;
      if (getAtt) return `local:${getAtt.join('.')}`;
      if (typeof record.Ref === 'string') return `local:${record.Ref}`;
      return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, replaceIntrinsics(v)]));
    }
    return value;
  };
  const definition = replaceIntrinsics(machine.definition) as { States: Record<string, Record<string, unknown>> };
  const original = machine.definition as { States: Record<string, Record<string, unknown>> };
  for (const [stateName, state] of Object.entries(original.States)) {
    if (state.Type !== 'Task') continue;
    const resource = state.Resource as unknown;
    const getAtt = (resource as { 'Fn::GetAtt'?: string[] })?.['Fn::GetAtt'];
    const target = definition.States[stateName] as Record<string, unknown>;
    if (getAtt?.[0]) {
      tasks[stateName] = { kind: 'lambda', functionName: getAtt[0] };
      target.Resource = localFunctionArn(region, getAtt[0]);
    } else if (typeof resource === 'string' && ECS_RUN_TASK.test(resource.replace(PARTITION, 'aws-us-gov'))) {
      tasks[stateName] = { kind: 'ecs' };
    } else {
      throw new Error(`the local runtime cannot run the resource of state ${stateName}: ${JSON.stringify(resource)}`);
    }
  }
  return { name, definition: definition as unknown as StateMachineDefinition, tasks };
}

/** Runs the Fargate worker as a child process with the task's environment overrides, like ECS RunTask(.sync). */
export function localWorkerLauncher(root: string, onLine: (line: string) => void, running: Set<ChildProcess>): TaskHandler {
  return (input) =>
    new Promise((resolve, reject) => {
      const overrides =
        (input as { Overrides?: { ContainerOverrides?: Array<{ Environment?: Array<{ Name: string; Value: string }> }> } })
          .Overrides?.ContainerOverrides?.[0]?.Environment ?? [];
      // The container's Node flags and environment (fargate-worker/runtime.ts), then the task's overrides.
      const env = { ...process.env, ...WORKER_ENV, ...Object.fromEntries(overrides.map((e) => [e.Name, e.Value])) };
      const worker = [
        '--require',
        join(root, 'local', 'worker-output.cjs'),
        // ssh2's native crypto binding, as the container's worker has it (local/worker-native.cjs).
        '--require',
        join(root, 'local', 'worker-native.cjs'),
        '--import',
        'tsx',
        join(root, 'fargate-worker', 'main.ts'),
      ];
      const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...worker], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      for (const stream of [child.stdout, child.stderr])
        createInterface({ input: stream }).on('line', (line) => onLine(`[worker] ${line}`));
      running.add(child);
      child.on('error', reject);
      child.on('close', (exitCode, signal) => {
        running.delete(child);
        if (exitCode === 0) return resolve({ LastStatus: 'STOPPED', Containers: [{ ExitCode: 0 }] });
        // What Step Functions reports when a .sync task's container exits non-zero.
        const error = new Error(
          JSON.stringify({
            LastStatus: 'STOPPED',
            StopCode: 'EssentialContainerExited',
            Containers: [{ ExitCode: exitCode, Signal: signal }],
          }),
        );
        error.name = 'States.TaskFailed';
        reject(error);
      });
    });
}

interface Execution {
  executionArn: string;
  name: string;
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  startDate: number;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  done: Promise<void>;
  /** GetExecutionHistory's events: the execution's start and end, and each state entered and exited. */
  history: HistoryEvent[];
}

/** The interpreter's events (the package does not export their type). */
type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

interface HistoryEvent {
  id: number;
  timestamp: number;
  type: string;
  stateEnteredEventDetails?: { name: string };
  stateExitedEventDetails?: { name: string };
}

/** The interpreter's event log as GetExecutionHistory spells it (TaskStateEntered, ChoiceStateExited, …). */
async function recordHistory(history: HistoryEvent[], logs: AsyncGenerator<EventLog>): Promise<void> {
  for await (const event of logs) {
    const base = { id: history.length + 1, timestamp: event.timestamp / 1000 };
    if (event.type === 'StateEntered')
      history.push({ ...base, type: `${event.state.type}StateEntered`, stateEnteredEventDetails: { name: event.state.name } });
    else if (event.type === 'StateExited')
      history.push({ ...base, type: `${event.state.type}StateExited`, stateExitedEventDetails: { name: event.state.name } });
    else if (event.type.startsWith('Execution')) history.push({ ...base, type: event.type });
  }
}

/**
 * A local Step Functions endpoint (AWS JSON 1.0 protocol: StartExecution,
 * DescribeExecution, GetExecutionHistory) that runs the deployed definition with
 * aws-local-stepfunctions. Lambda tasks run the same handler modules in this
 * process (whose environment is the region's function environment); the ECS
 * task runs the worker as a child process.
 */
export async function startStepFunctions(options: {
  config: ServiceConfig;
  region: string;
  root: string;
  onLine: (line: string) => void;
  port?: number;
}): Promise<{ url: string; executions: Map<string, Execution>; close(): Promise<void> }> {
  const machines = new Map<string, { prepared: PreparedMachine; machine: StateMachine; handlers: Record<string, TaskHandler> }>();
  // Workers still running when the region stops get SIGTERM, as ECS stops a task.
  const workers = new Set<ChildProcess>();
  const launchWorker = localWorkerLauncher(options.root, options.onLine, workers);
  for (const id of Object.keys(options.config.stepFunctions?.stateMachines ?? {})) {
    const prepared = prepareStateMachine(options.config, id, options.region);
    const handlers: Record<string, TaskHandler> = {};
    for (const [stateName, task] of Object.entries(prepared.tasks)) {
      handlers[stateName] = task.kind === 'ecs' ? launchWorker : lambdaInvoker(options.config, task.functionName, options.root);
    }
    machines.set(localStateMachineArn(options.region, prepared.name), {
      prepared,
      machine: new StateMachine(prepared.definition, { validationOptions: { checkArn: false } }),
      handlers,
    });
  }
  const executions = new Map<string, Execution>();
  // Tests shorten the definition's retry pauses (e.g. 15 s while a lease is held elsewhere); nothing else changes.
  const retryMs = process.env.EFT_LOCAL_RETRY_INTERVAL_MS;
  const retryIntervalOverrides = retryMs
    ? Object.fromEntries([...machines.values()].flatMap((m) => Object.keys(m.handlers)).map((state) => [state, Number(retryMs)]))
    : undefined;

  const startExecution = (body: { stateMachineArn?: string; name?: string; input?: string }) => {
    const entry = machines.get(body.stateMachineArn ?? '');
    if (!entry)
      return {
        status: 400,
        body: { __type: 'StateMachineDoesNotExist', message: `State Machine Does Not Exist: '${body.stateMachineArn}'` },
      };
    const name = body.name ?? randomUUID();
    const input = body.input ?? '{}';
    const executionArn = `${(body.stateMachineArn ?? '').replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = executions.get(executionArn);
    if (existing) {
      // Step Functions: same name and input while running is idempotent; anything else is refused.
      if (existing.status === 'RUNNING' && existing.input === input)
        return { status: 200, body: { executionArn, startDate: existing.startDate / 1000 } };
      return { status: 400, body: { __type: 'ExecutionAlreadyExists', message: `Execution Already Exists: '${executionArn}'` } };
    }
    const startDate = Date.now();
    const run = entry.machine.run(JSON.parse(input), {
      overrides: {
        taskResourceLocalHandlers: entry.handlers as never,
        ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
      },
      context: {
        Execution: { Id: executionArn, Name: name, Input: JSON.parse(input), StartTime: new Date(startDate).toISOString() },
      },
    });
    const execution: Execution = {
      executionArn,
      name,
      input,
      status: 'RUNNING',
      startDate,
      done: Promise.resolve(),
      history: [],
    };
    recordHistory(execution.history, run.eventLogs).catch(() => undefined);
    execution.done = run.result.then(
      (output) => {
        Object.assign(execution, { status: 'SUCCEEDED', output: JSON.stringify(output), stopDate: Date.now() });
      },
      (error: Error & { cause?: unknown }) => {
        Object.assign(execution, { status: 'FAILED', error: error.name, cause: error.message, stopDate: Date.now() });
        options.onLine(
          JSON.stringify({ level: 'warn', message: 'execution failed', executionArn, error: error.name, cause: error.message }),
        );
      },
    );
    executions.set(executionArn, execution);
    return { status: 200, body: { executionArn, startDate: startDate / 1000 } };
  };

  const describeExecution = (body: { executionArn?: string }) => {
    const execution = executions.get(body.executionArn ?? '');
    if (!execution)
      return {
        status: 400,
        body: { __type: 'ExecutionDoesNotExist', message: `Execution Does Not Exist: '${body.executionArn}'` },
      };
    const { done: _done, history: _history, startDate, stopDate, ...rest } = execution;
    return { status: 200, body: { ...rest, startDate: startDate / 1000, ...(stopDate ? { stopDate: stopDate / 1000 } : {}) } };
  };

  const getExecutionHistory = (body: { executionArn?: string }) => {
    const execution = executions.get(body.executionArn ?? '');
    if (!execution)
      return {
        status: 400,
        body: { __type: 'ExecutionDoesNotExist', message: `Execution Does Not Exist: '${body.executionArn}'` },
      };
    return { status: 200, body: { events: execution.history } };
  };

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const target = String(request.headers['x-amz-target'] ?? '');
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    const result =
      target === 'AWSStepFunctions.StartExecution'
        ? startExecution(body)
        : target === 'AWSStepFunctions.DescribeExecution'
          ? describeExecution(body)
          : target === 'AWSStepFunctions.GetExecutionHistory'
            ? getExecutionHistory(body)
            : { status: 400, body: { __type: 'UnknownOperationException', message: `${target} is not served locally` } };
    response.writeHead(result.status, { 'Content-Type': 'application/x-amz-json-1.0' });
    response.end(JSON.stringify(result.body));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    executions,
    close: async () => {
      await Promise.all(
        [...workers].map((worker) => {
          const exited = once(worker, 'close');
          worker.kill('SIGTERM');
          return exited;
        }),
      );
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

/** Invokes a function's handler module as Lambda would, with a minimal context. */
function lambdaInvoker(config: ServiceConfig, functionName: string, root: string): TaskHandler {
  const fn = config.functions[functionName];
  if (!fn) throw new Error(`the state machine calls ${functionName}, which serverless.yml does not declare`);
  let handler: LambdaHandler | undefined;
  return async (input) => {
    handler ??= loadHandler<LambdaHandler>(fn.handler, root);
    // The function's own timeout, counted from the invocation as Lambda's context does (none declared: 900 s).
    const deadline = Date.now() + (fn.timeout ?? 900) * 1000;
    return handler(input, {
      awsRequestId: randomUUID(),
      functionName,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    });
  };
}
