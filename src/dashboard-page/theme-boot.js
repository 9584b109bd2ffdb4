// Applies the remembered theme before the first paint (a classic script in <head>, as CSP allows
// no inline script), so a light-theme user sees no dark flash. theme.js owns the choice after.
try {
  var t = localStorage.getItem('erlmcp-monitor.theme');
  if (t === 'dark' || t === 'light') document.documentElement.setAttribute('data-theme', t);
} catch {
  // storage disabled: the default (dark) stays
}
