// Node 20 lacks Promise.withResolvers, which libp2p's dependencies (it-queue, yamux, noise, utils)
// call at run time. Imported first by the libp2p transport so the module works even when the entry
// point did not load scripts/polyfills.mjs.

const P = Promise as unknown as { withResolvers?: unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>(this: PromiseConstructor) {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new this<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};
