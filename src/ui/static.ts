/**
 * The console's one stylesheet and one script, served from /ui/static (no CDN: the service often runs
 * without internet). The script only adds conveniences (select all, confirm before a delete); every page
 * works without it.
 */
export const CONSOLE_CSS = `
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f23;background:#f6f7f9}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.5rem 1rem;background:#1f2d3d;color:#fff}
header a{color:#fff}.brand{font-weight:700;text-decoration:none;margin-right:1rem}
nav{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem;flex:1}nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0;padding:0;flex:1}
.signout{display:flex;gap:.5rem;align-items:center}.role{opacity:.8;font-size:.9em}
main{padding:1rem;max-width:1200px;margin:0 auto}h1{font-size:1.4rem;margin:.25rem 0 1rem}
table{border-collapse:collapse;width:100%;background:#fff;margin:.5rem 0 1rem}th,td{border-bottom:1px solid #e1e4e8;padding:.35rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef1f4;font-weight:600}form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:.5rem}
label{display:flex;flex-direction:column;font-size:.85rem;gap:.15rem}input,select,button{font:inherit;padding:.3rem .45rem}
button{cursor:pointer;border:1px solid #8a94a0;border-radius:4px;background:#fff}button.danger{border-color:#b31d28;color:#b31d28}
button.primary{background:#0b5cad;border-color:#0b5cad;color:#fff}:focus-visible{outline:3px solid #f0a500;outline-offset:1px}
.notice{padding:.5rem .75rem;border-radius:4px;background:#e6f4ea}.notice.error{background:#fde8e8}
.cards{display:flex;flex-wrap:wrap;gap:1rem}.card{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:.75rem 1rem;min-width:14rem;flex:1}
.bar{display:inline-block;height:.7rem;background:#0b5cad;vertical-align:middle}.bar.spam{background:#b31d28}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;border:1px solid #e1e4e8;padding:.5rem}
iframe.body{width:100%;height:420px;border:1px solid #e1e4e8;background:#fff}.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;background:#fff;padding:.5rem;border:1px solid #e1e4e8}dl.kv dt{font-weight:600}dl.kv dd{margin:0;overflow-wrap:anywhere}
@media (max-width:700px){table.wide thead{display:none}table.wide td{display:block;border:0}table.wide tr{display:block;border-bottom:1px solid #ccd}}
`;

export const CONSOLE_JS = `
document.addEventListener('change', function (e) {
  var t = e.target;
  if (t && t.matches && t.matches('input[data-select-all]')) {
    document.querySelectorAll('input[name="ids"]').forEach(function (box) { box.checked = t.checked; });
  }
});
document.addEventListener('submit', function (e) {
  var b = e.submitter;
  if (b && b.dataset && b.dataset.confirm && !window.confirm(b.dataset.confirm)) e.preventDefault();
});
`;
