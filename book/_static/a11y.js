/* Keyboard access to the code a reader opens (WCAG 2.1.1).
 *
 * pydata-sphinx-theme 0.17 (addTabStopsToScrollableElements) puts every
 * code block or output that scrolls in the tab order (tabindex 0), so that
 * a keyboard can scroll it, when the page loads, on resize and when nodes
 * are added. Blocks inside collapsed parts (myst-nb's hidden code cells,
 * dropdowns, solutions) are measured while hidden; one that scrolls once
 * opened stayed out of reach, because opening changes an attribute, not
 * the nodes. This measures them again when they open. Whether a block
 * scrolls depends on the reader's layout, so it takes a script.
 */
(() => {
  // The theme's list of blocks that may scroll.
  const SCROLLABLE = [
    "pre",
    ".nboutput > .output_area",
    ".cell_output > .output",
    ".jp-RenderedHTMLCommon",
    ".pst-scrollable-table-container",
  ].join(", ");
  const scrolls = (el) =>
    el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight;
  const opened = (el) =>
    el.matches("details[open], .toggle:not(.toggle-hidden)");

  const measure = (records) => {
    for (const { target } of records) {
      if (!opened(target)) continue;
      target.querySelectorAll(SCROLLABLE).forEach((el) => {
        el.tabIndex = scrolls(el) ? 0 : -1;
      });
    }
  };

  document.addEventListener("DOMContentLoaded", () => {
    const main = document.getElementById("main-content");
    if (!main) return;
    new MutationObserver(measure).observe(main, {
      subtree: true,
      attributeFilter: ["open", "class"],
    });
  });
})();
