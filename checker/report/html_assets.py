"""The HTML report's style sheet and script, inlined into every page (the report must open
with no network). Kept here, apart from the markup, so each can be read whole."""

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; margin: 0 0 .2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .3em; }
h3 { font-size: 1em; margin: 1.2em 0 .3em; }
code, pre, .where { font-family: ui-monospace, monospace; font-size: 12px; }
.summary, .verdict, .legend { color: #444; }
section.check { border-top: 1px solid #ccc; padding-top: .4em; }
section.check.unexpected > h2 { color: #b00; }
section.check.inconclusive > h2 { color: #a60; }
details.check-body > summary { cursor: pointer; color: #345; }
table { border-collapse: collapse; }
table.grid td, table.grid th { border: 1px solid #ddd; padding: 1px 4px;
  font-family: ui-monospace, monospace; }
table.grid th.arch { vertical-align: bottom; }
table.grid th.arch span { writing-mode: vertical-rl; transform: rotate(180deg);
  white-space: nowrap; }
table.grid th.protocol { text-align: left; font-weight: normal; padding-left: 1em; }
table.grid tr.file th { text-align: left; font-weight: normal; color: #666;
  background: #f4f4f4; font-size: 12px; }
table.grid td { text-align: center; min-width: 1.6em; }
table.grid td a { text-decoration: none; color: inherit; display: block; }
table.grid td.ok { background: #eef7ee; }
table.grid td.unexpected { background: #f8d0d0; font-weight: bold; }
table.grid td.inconclusive { background: #fff0c0; }
table.redundant, table.redundant-inside, table.explain { margin: .4em 0; }
table.redundant td, table.redundant th, table.redundant-inside td, table.redundant-inside th,
table.explain td, table.explain th { border: 1px solid #ddd; padding: 2px 6px;
  vertical-align: top; text-align: left; }
table.explain td.cell { text-align: center; font-family: ui-monospace, monospace; }
table.explain td.bearing { background: #fde2c8; }
table.explain td.can-go { background: #e3f1e3; }
table.explain td.unsafe, table.explain td.none { color: #999; }
.trace { margin: .6em 0 1.4em; outline: none; }
.trace:focus-within, .trace.active { box-shadow: -3px 0 0 #8a2be2; padding-left: 6px; }
.trace .start, .trace .conclusion { font-family: ui-monospace, monospace; font-size: 12px; }
.trace .conclusion { font-weight: bold; }
.trace-body { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.lane-scroll { overflow-x: auto; max-width: 100%; border: 1px solid #eee; }
ol.steps { margin: 0; padding-left: 2.4em; min-width: 26em; max-width: 46em;
  max-height: 40em; overflow-y: auto; font-size: 12px; }
ol.steps li { padding: 2px 4px; border-radius: 3px; cursor: pointer; }
ol.steps li.current { background: #fff3a8; }
ol.steps li.finding { border-left: 3px solid #c00; }
ol.steps .actor { font-weight: bold; }
ol.steps .change { color: #555; font-family: ui-monospace, monospace; }
ol.steps strong.finding { color: #b00; }
.legend-cells span { display: inline-block; margin-right: .6em; padding: 0 .4em;
  border: 1px solid #aaa; border-radius: 3px; font-size: 12px; }
.legend-cells .absent { border-style: dashed; }
.legend-cells .clean { background: #d7ecff; }
.legend-cells .dirty { background: #ffc98b; }
.legend-cells .memory { background: #e6e6e6; }
.legend-cells .wanted { border: 2px solid #8a2be2; }
.legend-cells .stale { border: 2px solid #d00; }
svg.swimlane { font: 11px ui-monospace, monospace; display: block; }
svg.swimlane text { fill: #222; }
svg.swimlane text.op { fill: #555; }
svg.swimlane .stepno { fill: #777; }
svg.swimlane .lane-head, svg.swimlane .band-head { font-weight: bold; }
svg.swimlane .band-head.memory { fill: #555; }
svg.swimlane rect.row { fill: #fff; }
svg.swimlane rect.row:nth-of-type(2n) { fill: #f7f7f7; }
svg.swimlane rect.row.finding-row { fill: #ffe1e1; }
svg.swimlane rect.row.current { fill: #fff3a8; }
svg.swimlane .lifeline { stroke: #d8d8d8; }
svg.swimlane .band-edge { stroke: #eee; }
svg.swimlane .step rect { fill: #e6edfb; stroke: #6b83c7; }
svg.swimlane .step.hardware rect { fill: #ececec; stroke: #888; }
svg.swimlane .step.wanted-write rect { stroke: #8a2be2; stroke-width: 2.5; }
svg.swimlane .step { cursor: pointer; }
svg.swimlane .cell rect { stroke-width: 1; }
svg.swimlane .cell.absent rect { fill: none; stroke: #ccc; stroke-dasharray: 3 3; }
svg.swimlane .cell.clean rect { fill: #d7ecff; stroke: #5b9bd5; }
svg.swimlane .cell.dirty rect { fill: #ffc98b; stroke: #d9822b; }
svg.swimlane .cell.memory rect { fill: #e6e6e6; stroke: #888; }
svg.swimlane .cell.changed rect { stroke-width: 2; }
svg.swimlane .cell.wanted rect { stroke: #8a2be2; stroke-width: 3; }
svg.swimlane .cell.stale rect { stroke: #d00; stroke-width: 3; }
svg.swimlane .wanted-path { fill: none; stroke: #8a2be2; stroke-width: 2;
  stroke-dasharray: 5 4; opacity: .75; pointer-events: none; }
svg.swimlane .wanted-gone path { stroke: #c00; stroke-width: 3; }
"""

# Stepping: a click on a row (a step box, a cell, a line of the step list) makes its trace
# the active one and its row the current one; then j/k and the arrow keys move the current
# row, lit in the drawing and in the list. Until a trace is clicked or focused (Tab), keys
# are the browser's (the arrows scroll the page). `data-ready` on <html> says the script ran
# to its end.
SCRIPT = """
(function () {
  var traces = Array.prototype.slice.call(document.querySelectorAll('.trace'));
  var active = null;
  function rows(trace) {
    var svg = trace.querySelector('svg.swimlane');
    return svg ? parseInt(svg.getAttribute('data-rows'), 10) : 0;
  }
  function select(trace, row) {
    var count = rows(trace);
    if (!count) { return; }
    row = Math.max(0, Math.min(count - 1, row));
    Array.prototype.forEach.call(trace.querySelectorAll('.current'), function (el) {
      el.classList.remove('current');
    });
    Array.prototype.forEach.call(
      trace.querySelectorAll('rect.row[data-row="' + row + '"], ol.steps li[data-row="' +
                             row + '"]'),
      function (el) { el.classList.add('current'); });
    trace.setAttribute('data-current', String(row));
    ['ol.steps li', 'rect.row'].forEach(function (what) {
      var el = trace.querySelector(what + '[data-row="' + row + '"]');
      if (el && el.scrollIntoView) { el.scrollIntoView({block: 'nearest', inline: 'nearest'}); }
    });
  }
  function activate(trace) {
    if (active) { active.classList.remove('active'); }
    active = trace;
    trace.classList.add('active');
  }
  traces.forEach(function (trace) {
    trace.setAttribute('data-current', '-1');
    trace.addEventListener('focusin', function () { activate(trace); });
    trace.addEventListener('click', function (event) {
      activate(trace);
      var target = event.target.closest ? event.target.closest('[data-row]') : null;
      if (target) { select(trace, parseInt(target.getAttribute('data-row'), 10)); }
    });
  });
  document.addEventListener('keydown', function (event) {
    if (!active || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var step = {j: 1, ArrowDown: 1, k: -1, ArrowUp: -1}[event.key];
    if (!step) { return; }
    select(active, parseInt(active.getAttribute('data-current'), 10) + step);
    event.preventDefault();
  });
  // A folded check (a page of many checks) unfolds when the address names it or a
  // trace in it (a link from elsewhere, the back button) and when a link to it is clicked,
  // even one to the address the page is at already (no hashchange then). The ids are
  // plain ASCII (check-N, check-N-kind): the hash is not decoded.
  function unfold(id) {
    var el = id ? document.getElementById(id) : null;
    if (!el) { return; }
    var body = el.querySelector('details.check-body') || el.closest('details.check-body');
    if (body && !body.open) {
      body.open = true;
      el.scrollIntoView();
    }
  }
  function unfoldAddress() { unfold(window.location.hash.slice(1)); }
  window.addEventListener('hashchange', unfoldAddress);
  document.addEventListener('click', function (event) {
    var link = event.target.closest ? event.target.closest('a[href^="#"]') : null;
    if (link) { unfold(link.getAttribute('href').slice(1)); }
  });
  unfoldAddress();
  document.documentElement.setAttribute('data-ready', '1');
})();
"""
