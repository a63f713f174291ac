import type { Lifecycle, LifecycleEvent } from './types.js';

interface EventTargetLike {
  addEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void;
  removeEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void;
}
interface DocumentLike extends EventTargetLike {
  visibilityState?: string;
}

/**
 * A page's lifecycle: 'background' when it is hidden (another tab, the app switcher, the screen locked: on mobile the
 * last moment a page is sure to run), 'exit' on pagehide (closed, reloaded, navigated away), 'foreground' when it is
 * shown again. Undefined outside a browser.
 * https://developer.chrome.com/docs/web-platform/page-lifecycle-api#the_unload_event
 */
export function browserLifecycle(): Lifecycle | undefined {
  const { document, window } = globalThis as { document?: DocumentLike; window?: EventTargetLike };
  if (document === undefined || window === undefined) return undefined;
  return {
    subscribe(listener: (event: LifecycleEvent) => void) {
      const onVisibility = () => listener(document.visibilityState === 'hidden' ? 'background' : 'foreground');
      const onPageHide = () => listener('exit');
      // Back from the back/forward cache: the page runs again without a new start.
      const onPageShow = (event: { persisted?: boolean }) => {
        if (event.persisted === true) listener('foreground');
      };
      document.addEventListener('visibilitychange', onVisibility);
      window.addEventListener('pagehide', onPageHide);
      window.addEventListener('pageshow', onPageShow);
      return () => {
        document.removeEventListener('visibilitychange', onVisibility);
        window.removeEventListener('pagehide', onPageHide);
        window.removeEventListener('pageshow', onPageShow);
      };
    },
  };
}
