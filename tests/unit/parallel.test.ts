import { bothInOrder, inParallel } from '../../core/domain/parallel';

/** Work whose every item waits until the test resolves or rejects it. */
function controlledWork() {
  const started: number[] = [];
  const settle = new Map<number, { resolve: (value: string) => void; reject: (error: unknown) => void }>();
  let running = 0;
  let mostRunning = 0;
  const work = (item: number) => {
    started.push(item);
    running++;
    mostRunning = Math.max(mostRunning, running);
    return new Promise<string>((resolve, reject) => {
      settle.set(item, { resolve, reject });
    }).finally(() => {
      running--;
    });
  };
  return {
    work,
    started,
    resolve: (item: number) => settle.get(item)?.resolve(`result ${item}`),
    reject: (item: number, error: unknown) => settle.get(item)?.reject(error),
    mostRunning: () => mostRunning,
  };
}

/** Lets every pending promise callback run (microtasks only, no timers). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** The outcome of a promise so far, without awaiting it. */
function watch<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

describe('inParallel', () => {
  test('starts at most `limit` items at a time, and the next one as soon as one finishes', async () => {
    const { work, started, resolve, mostRunning } = controlledWork();
    const run = watch(inParallel([1, 2, 3, 4, 5], 2, work));

    await flush();
    expect(started).toEqual([1, 2]);
    resolve(2);
    await flush();
    expect(started).toEqual([1, 2, 3]);
    resolve(1);
    resolve(3);
    await flush();
    expect(started).toEqual([1, 2, 3, 4, 5]);
    resolve(4);
    resolve(5);
    await flush();

    expect(run.settled).toBe(true);
    expect(mostRunning()).toBe(2);
  });

  test('returns the results in the order of the items, whatever order they finish in', async () => {
    const { work, resolve } = controlledWork();
    const run = inParallel([1, 2, 3, 4], 4, work);

    await flush();
    for (const item of [3, 1, 4, 2]) {
      resolve(item);
      await flush();
    }

    await expect(run).resolves.toEqual(['result 1', 'result 2', 'result 3', 'result 4']);
  });

  test('starts no new item after a failure', async () => {
    const { work, started, reject, resolve } = controlledWork();
    const run = watch(inParallel([1, 2, 3, 4, 5], 2, work));

    await flush();
    reject(1, new Error('part 1 failed'));
    await flush();
    resolve(2);
    await flush();

    expect(started).toEqual([1, 2]);
    expect(run.settled).toBe(true);
  });

  test('throws the first failure only once the running items have settled', async () => {
    const { work, reject } = controlledWork();
    const first = new Error('part 1 failed');
    const run = watch(inParallel([1, 2, 3], 3, work));

    await flush();
    reject(1, first);
    await flush();
    expect(run.settled).toBe(false); // items 2 and 3 still run

    reject(2, new Error('part 2 failed too'));
    await flush();
    expect(run.settled).toBe(false);

    reject(3, new Error('and part 3'));
    await flush();
    expect(run).toEqual({ settled: true, error: first });
  });

  test('no items: no work, no results', async () => {
    const { work, started } = controlledWork();
    await expect(inParallel([], 4, work)).resolves.toEqual([]);
    expect(started).toEqual([]);
  });

  test.each([0, -1, 1.5, Number.NaN])('refuses a limit of %p instead of doing nothing', async (limit) => {
    const { work, started } = controlledWork();
    await expect(inParallel([1], limit, work)).rejects.toBeInstanceOf(RangeError);
    expect(started).toEqual([]);
  });
});

describe('bothInOrder', () => {
  it('returns both values', async () => {
    await expect(bothInOrder(Promise.resolve(1), Promise.resolve('b'))).resolves.toEqual([1, 'b']);
  });

  it('throws the first lookup’s error even when the second fails sooner', async () => {
    let failFirst: (error: Error) => void = () => {};
    const first = new Promise<number>((_resolve, reject) => {
      failFirst = reject;
    });
    const second = Promise.reject(new Error('second'));
    const both = bothInOrder(first, second);
    await Promise.allSettled([second]);
    failFirst(new Error('first'));
    await expect(both).rejects.toThrow('first');
  });

  it('throws the second lookup’s error when only it fails', async () => {
    await expect(bothInOrder(Promise.resolve(1), Promise.reject(new Error('second')))).rejects.toThrow('second');
  });
});
