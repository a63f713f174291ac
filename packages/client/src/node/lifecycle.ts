import type { Lifecycle, LifecycleEvent } from '../types.js';

/** The lifecycle of a Node process: 'exit' when its event loop runs empty (beforeExit), so that the queue is flushed before it ends. */
export function nodeLifecycle(target: Pick<NodeJS.Process, 'on' | 'off'> = process): Lifecycle {
  return {
    subscribe(listener: (event: LifecycleEvent) => void) {
      const onBeforeExit = () => listener('exit');
      target.on('beforeExit', onBeforeExit);
      return () => {
        target.off('beforeExit', onBeforeExit);
      };
    },
  };
}
