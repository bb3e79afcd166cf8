// chatroom — the Discover page's chat, the drawers on narrow screens (the
// conversation list and the people list).
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { el } from "./state.js";
import { closeCard } from "./people.js";

// ------------------------------------------------------------ drawers

// On narrow screens both side panels are drawers over the chat.
const drawers = [
  { panel: el.sidebar, toggle: el.sidebarToggle, close: el.sidebarClose },
  { panel: el.nav, toggle: el.navToggle, close: el.navClose },
];

const isOpen = (d) => d.panel.classList.contains("is-open");

function setDrawer(d, open, returnFocus) {
  d.panel.classList.toggle("is-open", open);
  d.toggle.setAttribute("aria-expanded", String(open));
  if (open) d.panel.focus({ preventScroll: true });
  else if (returnFocus) d.toggle.focus();
}

export function closeDrawers() {
  for (const d of drawers) if (isOpen(d)) setDrawer(d, false, false);
}

for (const d of drawers) {
  d.toggle.addEventListener("click", () => {
    for (const other of drawers) if (other !== d && isOpen(other)) setDrawer(other, false, false);
    setDrawer(d, !isOpen(d), false);
  });
  if (d.close) d.close.addEventListener("click", () => setDrawer(d, false, true));
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (!el.card.hidden) {
    closeCard(true);
    return;
  }
  for (const d of drawers) if (isOpen(d)) setDrawer(d, false, true);
});

document.addEventListener("click", (event) => {
  for (const d of drawers) {
    if (isOpen(d) && !d.panel.contains(event.target) && !d.toggle.contains(event.target) && event.target.isConnected) {
      setDrawer(d, false, false);
    }
  }
});
