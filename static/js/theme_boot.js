// Applies the theme remembered in this browser before the page is drawn (a classic script in
// <head>, so a light page never flashes dark); static/js/display.js owns the preference.
try {
  const theme = window.localStorage.getItem("strategylab.theme");
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
} catch {
  // storage disabled: the default dark theme
}
