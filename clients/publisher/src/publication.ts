/**
 * The promise every publish returns. The seed calls its helpers without `await`: a failure
 * nobody waits for must not become an unhandled rejection (which ends Node), so it goes to
 * the publisher's `onError` instead; a caller that awaits (or `.then`s) gets the rejection.
 */

/** A promise that knows whether anyone is waiting for it. */
export class Publication<T> extends Promise<T> {
  // Promises derived by then/catch/finally are plain ones.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  #observed = false;

  /** Whether a caller awaited it or attached a handler. */
  get observed(): boolean {
    return this.#observed;
  }

  // `await`, `.catch`, `.finally`, `Promise.all`… all go through `then`.
  override then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.#observed = true;
    return super.then(onFulfilled, onRejected);
  }
}

/** Called with a failure no caller waited for, and what was being published. */
export type ErrorHandler = (error: unknown, notification: unknown) => void;

/** The default `onError`: one line on stderr. */
export function logError(error: unknown): void {
  console.error("[tocsin] a notification was not published:", error);
}

/**
 * Runs `work` and returns its outcome as a {@link Publication}; a failure nobody is waiting
 * for when it happens goes to `onError(error, subject)`.
 */
export function publication<T>(
  work: () => Promise<T>,
  onError: ErrorHandler,
  subject: unknown,
): Publication<T> {
  const result = new Publication<T>((resolve, reject) => {
    work().then(resolve, reject);
  });
  // The built-in `then`, so that this handler does not count as a caller.
  Promise.prototype.then.call(result, undefined, (error: unknown) => {
    if (result.observed) return;
    try {
      onError(error, subject);
    } catch (failure) {
      logError(failure);
    }
  });
  return result;
}
