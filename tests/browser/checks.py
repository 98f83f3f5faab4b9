"""What is checked on every page the browser tests visit: a screenshot at a phone width (390 px) and at a desktop
width (1280 px), written to ``screenshots/``; on the phone, no sideways scrolling and tap targets at least 44 px
high; and axe-core's accessibility rules, of which no serious or critical one may be broken."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.e2e.servers import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOTS = ROOT / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
TAP = 44

# Elements that stick out past the right edge of the screen, outside a box that scrolls sideways on purpose.
OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  if (document.scrollingElement.scrollWidth <= width) return [];
  const scrolls = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
    if (getComputedStyle(p).overflowX !== "visible") return true; } return false; };
  return [...document.body.querySelectorAll("*")]
    .filter((el) => el.getBoundingClientRect().right > width + 0.5 && !scrolls(el))
    .slice(0, 5)
    .map((el) => `${el.tagName.toLowerCase()}.${el.className} ends at ${el.getBoundingClientRect().right} px`)
    .concat([`page is ${document.scrollingElement.scrollWidth} px wide for ${width} px`]);
}"""

# Buttons, links and fields of forms and menus lower than a fingertip.
SMALL_TARGETS_JS = """(tap) => {
  const targets = document.querySelectorAll("nav a, nav button, form button, form a, form select, "
    + "form input:not([type=hidden]):not([type=checkbox]):not([type=radio])");
  const found = [];
  for (const el of targets) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    if (box.height < tap - 0.5) {
      const text = (el.innerText || el.value || el.name || el.getAttribute("aria-label") || "").trim().slice(0, 40);
      found.push(`${el.tagName.toLowerCase()} "${text}" is ${box.height.toFixed(1)} px high`);
    }
  }
  return found;
}"""

AXE_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))}));
}"""


def look(page: Page, name: str, axe: str | None = None) -> list[str]:
    """Screenshots of the page at both widths; the problems found, each prefixed with ``name``."""
    SCREENSHOTS.mkdir(exist_ok=True)
    original = page.viewport_size
    problems: list[str] = []
    try:
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=SCREENSHOTS / f"{name}-1280.png", full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=SCREENSHOTS / f"{name}-390.png", full_page=True)
        problems += page.evaluate(OVERFLOW_JS)
        problems += page.evaluate(SMALL_TARGETS_JS, TAP)
        if axe is not None:
            problems += accessibility(page, axe)
    finally:
        if original is not None:
            page.set_viewport_size(original)
    return [f"{name}: {problem}" for problem in problems]


def accessibility(page: Page, axe: str) -> list[str]:
    """axe-core's serious and critical violations on the page."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(content=axe)
    violations: list[dict[str, Any]] = page.evaluate(AXE_JS)
    return [
        f"axe {v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'])}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
