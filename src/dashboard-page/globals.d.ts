// The page's one global: uPlot.iife.min.js, which index.html loads (defer) before app.js runs.
declare global {
  var uPlot: typeof import('uplot');
}

export {};
