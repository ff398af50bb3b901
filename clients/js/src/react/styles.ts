/** The NotificationCenter's stylesheet, injected once (apps need no CSS set-up). */

const CSS = `
.tocsin-nc{--tn-bg:#fff;--tn-fg:#0f172a;--tn-muted:#64748b;--tn-line:#e2e8f0;--tn-hover:#f8fafc;--tn-accent:#2563eb;
  position:relative;display:inline-flex;align-items:center;gap:.5rem;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--tn-fg);font-size:14px;line-height:1.4}
.tocsin-nc *{box-sizing:border-box}
.tocsin-bell{position:relative;display:inline-flex;align-items:center;justify-content:center;width:40px;height:40px;border-radius:9999px;border:1px solid var(--tn-line);background:var(--tn-bg);color:var(--tn-fg);cursor:pointer}
.tocsin-bell:hover{background:var(--tn-hover)}
.tocsin-nc button:focus-visible,.tocsin-nc [role=tab]:focus-visible,.tocsin-item:focus-visible,.tocsin-nc input:focus-visible,.tocsin-nc select:focus-visible,.tocsin-prefs h3:focus-visible{outline:2px solid var(--tn-accent);outline-offset:2px}
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
.tocsin-top{flex:none;display:flex;align-items:center;gap:.5rem;padding:12px 10px 4px 16px}
.tocsin-head{display:contents}
.tocsin-toolbar{flex:none;display:flex;flex-wrap:wrap;align-items:center;justify-content:flex-end;gap:2px 3px;padding:0 6px 8px 16px}
.tocsin-toolbar .tocsin-sub{flex:1 0 auto}
.tocsin-toolbar .tocsin-iconbtn{flex:none;white-space:nowrap;padding:0 5px;gap:.25rem}
.tocsin-toolbar .tocsin-iconbtn svg{width:15px;height:15px}
.tocsin-head h2{margin:0;font-size:16px;font-weight:700;flex:1;min-width:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.tocsin-sub{font-size:12px;color:var(--tn-muted)}
.tocsin-iconbtn{display:inline-flex;align-items:center;justify-content:center;gap:.3rem;height:30px;padding:0 8px;border:0;border-radius:8px;background:transparent;color:var(--tn-muted);cursor:pointer;font:inherit;font-size:12px}
.tocsin-iconbtn:hover{background:var(--tn-hover);color:var(--tn-fg)}
.tocsin-iconbtn:disabled{opacity:.45;cursor:default}
.tocsin-tabs{flex:none;display:flex;gap:0;padding:0 4px;border-bottom:1px solid var(--tn-line);overflow-x:auto;scrollbar-width:none}
.tocsin-tabpanel{flex:1 1 auto;min-height:0;overflow-y:auto;overscroll-behavior:contain}
.tocsin-tab{flex:none;display:inline-flex;align-items:center;gap:.3rem;padding:9px 5px;border:0;border-bottom:2px solid transparent;background:transparent;color:var(--tn-muted);font:inherit;font-size:13px;font-weight:600;cursor:pointer}
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
.tocsin-controls{flex:none;display:flex;align-items:flex-start;gap:2px;margin-right:-4px}
.tocsin-ctl{width:30px;padding:0}
.tocsin-btn{display:inline-flex;align-items:center;justify-content:center;gap:.3rem;min-height:28px;padding:3px 8px;border:1px solid #cbd5e1;border-radius:8px;background:var(--tn-bg);color:var(--tn-fg);font:inherit;font-size:12px;font-weight:600;line-height:1.2;cursor:pointer;text-align:center}
.tocsin-btn:hover{background:var(--tn-hover)}
.tocsin-btn.is-primary{background:var(--tn-accent);border-color:var(--tn-accent);color:#fff}
.tocsin-btn.is-primary:hover{background:#1d4ed8}
.tocsin-unarchive{white-space:nowrap;padding:3px 8px;color:#334155}
.tocsin-actions{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}
.tocsin-acted{display:inline-flex;align-items:center;gap:.3rem;margin:8px 0 0;padding:2px 8px;border-radius:6px;background:#f0fdf4;color:#15803d;font-size:12px;font-weight:600}
.tocsin-snooze{position:relative;display:inline-flex}
.tocsin-popup{position:absolute;right:0;top:calc(100% + 4px);z-index:20;min-width:196px;padding:4px;background:var(--tn-bg);border:1px solid var(--tn-line);border-radius:10px;box-shadow:0 12px 28px -8px rgba(15,23,42,.3);cursor:default}
.tocsin-popup[data-placement=up]{top:auto;bottom:calc(100% + 4px)}
.tocsin-menu{list-style:none;margin:0;padding:0}
.tocsin-menuitem{display:block;width:100%;padding:8px 10px;border:0;border-radius:6px;background:transparent;color:var(--tn-fg);font:inherit;font-size:13px;text-align:left;white-space:nowrap;cursor:pointer}
.tocsin-menuitem:hover,.tocsin-menuitem:focus{background:#eff6ff;color:#1d4ed8}
.tocsin-pick{display:flex;flex-direction:column;gap:6px;width:232px;max-width:calc(100cqw - 24px);padding:6px}
.tocsin-pick label{font-size:12px;font-weight:600;color:#334155}
.tocsin-pick-buttons{display:flex;justify-content:flex-end;gap:6px}
.tocsin-invalid{margin:0;font-size:12px;color:#b91c1c}
.tocsin-nc input[type=time],.tocsin-nc input[type=datetime-local],.tocsin-nc select{min-height:30px;padding:3px 6px;border:1px solid #cbd5e1;border-radius:6px;background:var(--tn-bg);color:var(--tn-fg);font:inherit;font-size:13px;max-width:100%}
.tocsin-nc input[type=checkbox]{width:18px;height:18px;margin:0;accent-color:var(--tn-accent);cursor:pointer}
.tocsin-nc input:disabled,.tocsin-nc select:disabled{opacity:.5;cursor:default}
.tocsin-listhead{position:sticky;top:0;z-index:1;display:flex;align-items:center;gap:.4rem;margin:0;padding:7px 16px 6px;font-size:12px;font-weight:700;letter-spacing:.02em;color:#475569;background:#f8fafc;border-bottom:1px solid var(--tn-line)}
.tocsin-tabpanel[data-tab=archive]{scroll-padding-top:32px}
.tocsin-none{margin:0;padding:14px 16px;color:var(--tn-muted);font-size:13px}
.tocsin-until{display:inline-flex;align-items:center;gap:.25rem;font-size:11px;font-weight:600;padding:1px 6px;border-radius:6px;background:#eef2ff;color:#4338ca;white-space:nowrap}
.tocsin-until svg{flex:none}
.tocsin-wake{color:#334155}
.tocsin-error{flex:none;margin:0 10px 8px 16px;padding:6px 10px;border-radius:8px;background:#fef2f2;color:#b91c1c;font-size:12px}
.tocsin-tab-icon{flex:none}
.tocsin-tab[data-tab=archive]{margin-left:auto;padding-left:8px;padding-right:8px}
.tocsin-tab-text{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap}
.tocsin-iconbtn.is-active{background:#eff6ff;color:var(--tn-accent)}
.tocsin-prefs-wrap,.tocsin-prefs{flex:1 1 auto;min-height:0;display:flex;flex-direction:column}
.tocsin-prefs-head{flex:none;display:flex;align-items:center;gap:.25rem;padding:2px 10px 8px 8px;border-bottom:1px solid var(--tn-line)}
.tocsin-prefs h3{margin:0;font-size:14px;font-weight:700}
.tocsin-prefs-body{flex:1 1 auto;min-height:0;overflow-y:auto;overscroll-behavior:contain;padding:10px 16px 12px}
.tocsin-note{margin:0 0 12px;padding:8px 10px;border-radius:8px;background:#fff7ed;color:#9a3412;font-size:12px}
.tocsin-prefs-table{width:100%;border-collapse:collapse;margin:0 0 14px;font-size:13px}
.tocsin-prefs-table caption{text-align:left;font-weight:700;padding:0 0 4px}
.tocsin-prefs-table th,.tocsin-prefs-table td{padding:6px 4px;border-bottom:1px solid var(--tn-line);text-align:center;vertical-align:middle}
.tocsin-prefs-table thead th{font-size:12px;font-weight:600;color:var(--tn-muted)}
.tocsin-prefs-table th:first-child{text-align:left;font-weight:600}
.tocsin-prefs-table td input{display:block;margin:0 auto}
.tocsin-fieldset{min-width:0;margin:0 0 14px;padding:0;border:0}
.tocsin-fieldset>legend{padding:0;margin:0 0 6px;font-size:13px;font-weight:700}
.tocsin-check{display:flex;align-items:center;gap:.5rem;font-size:13px;cursor:pointer}
.tocsin-row{display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px;margin:8px 0}
.tocsin-field{display:inline-flex;align-items:center;gap:.4rem;font-size:13px;min-width:0}
.tocsin-days{display:flex;flex-wrap:wrap;gap:4px;min-width:0;margin:4px 0;padding:0;border:0}
.tocsin-days>legend{float:left;width:100%;padding:0;margin:0 0 4px;font-size:12px;color:var(--tn-muted)}
.tocsin-day{position:relative;display:inline-flex}
.tocsin-nc .tocsin-day input{position:absolute;inset:0;width:100%;height:100%;opacity:0}
.tocsin-day span{display:inline-flex;align-items:center;justify-content:center;width:36px;height:30px;border:1px solid #cbd5e1;border-radius:8px;font-size:12px;font-weight:600;color:#334155}
.tocsin-day input:checked+span{background:var(--tn-accent);border-color:var(--tn-accent);color:#fff}
.tocsin-day input:focus-visible+span{outline:2px solid var(--tn-accent);outline-offset:2px}
.tocsin-days:disabled .tocsin-day span{opacity:.5}
.tocsin-prefs-foot{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:8px}
.tocsin-status{margin:0;font-size:12px;color:#15803d;min-height:1em}
.tocsin-status.is-failed{color:#b91c1c}
.tocsin-empty{display:flex;flex-direction:column;align-items:center;gap:.5rem;padding:40px 16px;color:var(--tn-muted);text-align:center}
.tocsin-empty svg{width:32px;height:32px;opacity:.6}
.tocsin-foot{padding:8px;text-align:center;border-top:1px solid var(--tn-line)}
@container (max-width:419px){
  .tocsin-top{gap:.35rem;padding:10px 6px 2px 14px}
  .tocsin-top .tocsin-iconbtn{padding:0 6px}
  .tocsin-toolbar{padding:0 6px 6px 14px}
  .tocsin-tabs{padding:0 1px}
  .tocsin-tab{padding:9px 2px;gap:3px;font-size:12px}
  .tocsin-tab[data-tab=archive]{padding-left:4px;padding-right:4px}
  .tocsin-count{min-width:15px;padding:0 4px;font-size:10px;line-height:15px}
  .tocsin-item{gap:.6rem;padding:10px 6px 10px 14px}
  .tocsin-icon{width:32px;height:32px}
  .tocsin-controls{flex-direction:column;align-items:center}
  .tocsin-prefs-body{padding:10px 12px 12px 14px}
}
@media (max-width:480px){
  .tocsin-nc>.tocsin-pill{padding:6px}
  .tocsin-nc>.tocsin-pill .tocsin-pill-text{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap}
}
.tocsin-push{flex:none;display:flex;flex-wrap:wrap;align-items:center;gap:6px 10px;font-size:12px;line-height:1.4;color:#334155}
.tocsin-push p{margin:0;flex:1 1 180px;min-width:0}
.tocsin-push .tocsin-btn{flex:none}
.tocsin-push.is-compact{margin:0 10px 8px 16px;padding:8px 10px;border-radius:8px;background:#eff6ff;color:#1e3a8a}
.tocsin-push.is-on p{color:#15803d;font-weight:600}
.tocsin-push.is-compact.is-on{background:#f0fdf4}
.tocsin-push.is-compact.is-off{background:#f8fafc;color:#334155}
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
