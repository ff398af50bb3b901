/** The NotificationCenter's stylesheet, injected once (apps need no CSS set-up). */

const CSS = `
.tocsin-nc{--tn-bg:#fff;--tn-fg:#0f172a;--tn-muted:#64748b;--tn-line:#e2e8f0;--tn-hover:#f8fafc;--tn-accent:#2563eb;
  position:relative;display:inline-flex;align-items:center;gap:.5rem;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--tn-fg);font-size:14px;line-height:1.4}
.tocsin-nc *{box-sizing:border-box}
.tocsin-bell{position:relative;display:inline-flex;align-items:center;justify-content:center;width:40px;height:40px;border-radius:9999px;border:1px solid var(--tn-line);background:var(--tn-bg);color:var(--tn-fg);cursor:pointer}
.tocsin-bell:hover{background:var(--tn-hover)}
.tocsin-nc button:focus-visible,.tocsin-nc [role=tab]:focus-visible,.tocsin-item:focus-visible{outline:2px solid var(--tn-accent);outline-offset:2px}
.tocsin-badge{position:absolute;top:-4px;right:-4px;min-width:19px;height:19px;padding:0 5px;border-radius:9999px;background:#dc2626;color:#fff;font-size:11px;font-weight:700;line-height:19px;text-align:center;border:2px solid var(--tn-bg)}
.tocsin-dot{position:absolute;bottom:1px;right:1px;width:10px;height:10px;border-radius:9999px;border:2px solid var(--tn-bg)}
.tocsin-dot[data-status=connected],.tocsin-pill[data-status=connected] .tocsin-pill-dot{background:#22c55e}
.tocsin-dot[data-status=connecting],.tocsin-pill[data-status=connecting] .tocsin-pill-dot{background:#eab308;animation:tocsin-pulse 1.2s ease-in-out infinite}
.tocsin-dot[data-status=disconnected],.tocsin-pill[data-status=disconnected] .tocsin-pill-dot{background:#ef4444}
@keyframes tocsin-pulse{0%,100%{opacity:1;transform:scale(1)}50%{opacity:.45;transform:scale(.85)}}
@media (prefers-reduced-motion:reduce){.tocsin-nc *{animation:none!important}}
.tocsin-pill{display:inline-flex;align-items:center;gap:.35rem;font-size:12px;font-weight:600;padding:2px 8px;border-radius:9999px;white-space:nowrap}
.tocsin-pill-dot{width:8px;height:8px;border-radius:9999px}
.tocsin-pill[data-status=connected]{color:#15803d;background:#f0fdf4}
.tocsin-pill[data-status=connecting]{color:#a16207;background:#fefce8}
.tocsin-pill[data-status=disconnected]{color:#b91c1c;background:#fef2f2}
.tocsin-panel{position:absolute;top:calc(100% + 8px);right:0;z-index:1000;width:min(460px,calc(100vw - 16px));max-height:min(600px,calc(100vh - 80px));display:flex;flex-direction:column;container-type:inline-size;background:var(--tn-bg);border:1px solid var(--tn-line);border-radius:12px;box-shadow:0 20px 40px -12px rgba(15,23,42,.28);overflow:hidden}
.tocsin-head{flex:none;display:flex;align-items:center;gap:.5rem;padding:12px 10px 4px 16px}
.tocsin-toolbar{flex:none;display:flex;flex-wrap:wrap;align-items:center;justify-content:flex-end;gap:2px .25rem;padding:0 10px 8px 16px}
.tocsin-toolbar .tocsin-sub{flex:1 0 auto}
.tocsin-toolbar .tocsin-iconbtn{flex:none;white-space:nowrap}
.tocsin-head h2{margin:0;font-size:16px;font-weight:700;flex:1;min-width:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.tocsin-sub{font-size:12px;color:var(--tn-muted)}
.tocsin-iconbtn{display:inline-flex;align-items:center;justify-content:center;gap:.3rem;height:30px;padding:0 8px;border:0;border-radius:8px;background:transparent;color:var(--tn-muted);cursor:pointer;font:inherit;font-size:12px}
.tocsin-iconbtn:hover{background:var(--tn-hover);color:var(--tn-fg)}
.tocsin-iconbtn:disabled{opacity:.45;cursor:default}
.tocsin-tabs{flex:none;display:flex;gap:0;padding:0 4px;border-bottom:1px solid var(--tn-line);overflow-x:auto;scrollbar-width:none}
.tocsin-tabpanel{flex:1 1 auto;min-height:0;overflow-y:auto;overscroll-behavior:contain}
.tocsin-tab{flex:none;display:inline-flex;align-items:center;gap:.3rem;padding:9px 7px;border:0;border-bottom:2px solid transparent;background:transparent;color:var(--tn-muted);font:inherit;font-size:13px;font-weight:600;cursor:pointer}
.tocsin-tab[aria-selected=true]{color:var(--tn-accent);border-bottom-color:var(--tn-accent)}
.tocsin-count{min-width:18px;padding:0 5px;border-radius:9999px;background:#eef2ff;color:#3730a3;font-size:11px;line-height:18px;text-align:center}
.tocsin-list{list-style:none;margin:0;padding:0}
.tocsin-item{position:relative;display:flex;gap:.75rem;padding:12px 14px;border-bottom:1px solid var(--tn-line);cursor:pointer}
.tocsin-item:hover{background:var(--tn-hover)}
.tocsin-item.is-unread{background:#f5f9ff}
.tocsin-item.is-unread::before{content:"";position:absolute;left:4px;top:50%;width:6px;height:6px;margin-top:-3px;border-radius:9999px;background:var(--tn-accent)}
.tocsin-icon{flex:none;display:inline-flex;align-items:center;justify-content:center;width:36px;height:36px;border-radius:9999px}
.tocsin-icon--email{color:#2563eb;background:#dbeafe}
.tocsin-icon--dossier{color:#16a34a;background:#dcfce7}
.tocsin-icon--critical{color:#dc2626;background:#fee2e2}
.tocsin-icon--urgent{color:#ea580c;background:#ffedd5}
.tocsin-icon--warning{color:#ca8a04;background:#fef9c3}
.tocsin-icon--info{color:#0369a1;background:#e0f2fe}
.tocsin-icon--system{color:#9333ea;background:#f3e8ff}
.tocsin-icon--system-error{color:#dc2626;background:#fee2e2}
.tocsin-icon--system-warning{color:#d97706;background:#fef3c7}
.tocsin-icon--system-success{color:#16a34a;background:#dcfce7}
.tocsin-body{flex:1;min-width:0}
.tocsin-title{margin:0;font-weight:600;color:var(--tn-fg);overflow:hidden;text-overflow:ellipsis;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical}
.tocsin-item:not(.is-unread) .tocsin-title{font-weight:500;color:#334155}
.tocsin-meta{margin:2px 0 0;color:var(--tn-muted);font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tocsin-tags{display:flex;flex-wrap:wrap;gap:.3rem;margin-top:4px;align-items:center}
.tocsin-tag{font-size:11px;font-weight:600;padding:1px 6px;border-radius:6px;background:#f1f5f9;color:#475569}
.tocsin-tag--critical{background:#fee2e2;color:#b91c1c}
.tocsin-tag--urgent{background:#ffedd5;color:#c2410c}
.tocsin-tag--warning{background:#fef9c3;color:#a16207}
.tocsin-time{font-size:12px;color:var(--tn-muted)}
.tocsin-mark{flex:none;align-self:flex-start}
.tocsin-empty{display:flex;flex-direction:column;align-items:center;gap:.5rem;padding:40px 16px;color:var(--tn-muted);text-align:center}
.tocsin-empty svg{width:32px;height:32px;opacity:.6}
.tocsin-foot{padding:8px;text-align:center;border-top:1px solid var(--tn-line)}
@container (max-width:419px){
  .tocsin-head{padding:10px 6px 2px 14px}
  .tocsin-toolbar{padding:0 6px 6px 14px}
  .tocsin-tabs{padding:0 1px}
  .tocsin-tab{padding:9px 4px;gap:3px;font-size:12px}
  .tocsin-count{min-width:15px;padding:0 4px;font-size:10px;line-height:15px}
  .tocsin-item{gap:.6rem;padding:10px 6px 10px 14px}
  .tocsin-icon{width:32px;height:32px}
}
@media (max-width:480px){
  .tocsin-nc>.tocsin-pill{padding:6px}
  .tocsin-nc>.tocsin-pill .tocsin-pill-text{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap}
}
.tocsin-sr-only{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
`;

/** Add the stylesheet to the document once. */
export function injectStyles(doc: Document | undefined = typeof document === "undefined" ? undefined : document): void {
  if (!doc || doc.getElementById("tocsin-nc-styles")) return;
  const style = doc.createElement("style");
  style.id = "tocsin-nc-styles";
  style.textContent = CSS;
  doc.head.appendChild(style);
}
