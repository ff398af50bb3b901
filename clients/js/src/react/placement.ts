/**
 * Where the open panel goes: under the bell, inside the viewport whatever the bell's place.
 *
 * The panel stays absolutely positioned in the component's root (it scrolls with the page and
 * works under transformed or `backdrop-filter` headers, which would capture `position: fixed`);
 * only its width, horizontal offset and height are set here, from the viewport's size.
 */
import { useLayoutEffect, type RefObject } from "react";

/** Space kept between the panel and the viewport's edges, and under the bell. */
export const PANEL_MARGIN = 8;
/** The panel's width when the viewport has room for it. */
export const PANEL_WIDTH = 460;
/** The panel's tallest: about five items under the header and tabs. */
export const PANEL_MAX_HEIGHT = 600;
/** Below this, the page scrolls rather than the panel shrinking further. */
const PANEL_MIN_HEIGHT = 240;

export interface Placement {
  width: number;
  /** Offset from the root's left edge. */
  left: number;
  maxHeight: number;
}

/**
 * The panel's box for a root at `root` (viewport coordinates) in a `viewportWidth` ×
 * `viewportHeight` viewport: right-aligned with the root when it fits, else slid inside.
 */
export function placePanel(
  root: { left: number; right: number; bottom: number },
  viewportWidth: number,
  viewportHeight: number,
): Placement {
  const width = Math.max(0, Math.min(PANEL_WIDTH, viewportWidth - 2 * PANEL_MARGIN));
  const rightAligned = root.right - width;
  const left = Math.min(Math.max(rightAligned, PANEL_MARGIN), viewportWidth - PANEL_MARGIN - width);
  const below = viewportHeight - (root.bottom + PANEL_MARGIN) - PANEL_MARGIN;
  const maxHeight = Math.min(PANEL_MAX_HEIGHT, Math.max(PANEL_MIN_HEIGHT, below));
  return { width, left: left - root.left, maxHeight };
}

/** Place the panel when it opens, and again whenever the viewport is resized. */
export function usePanelPlacement(
  open: boolean,
  rootRef: RefObject<HTMLElement | null>,
  panelRef: RefObject<HTMLElement | null>,
): void {
  useLayoutEffect(() => {
    if (!open) return;
    const place = () => {
      const root = rootRef.current;
      const panel = panelRef.current;
      if (!root || !panel) return;
      const doc = root.ownerDocument;
      const view = doc.defaultView;
      // clientWidth leaves out a vertical scrollbar, which innerWidth would count.
      const { width, left, maxHeight } = placePanel(
        root.getBoundingClientRect(),
        doc.documentElement.clientWidth,
        view?.innerHeight ?? doc.documentElement.clientHeight,
      );
      panel.style.width = `${width}px`;
      panel.style.left = `${left}px`;
      panel.style.right = "auto";
      panel.style.maxHeight = `${maxHeight}px`;
    };
    place();
    const view = rootRef.current?.ownerDocument.defaultView;
    if (!view) return;
    // Placed on opening and on resizing (rotation, split screen); the panel then scrolls
    // with the page like the bell it hangs from.
    view.addEventListener("resize", place);
    return () => view.removeEventListener("resize", place);
  }, [open, rootRef, panelRef]);
}
