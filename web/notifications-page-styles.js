// notifications-page-styles.js — the notifications page's styles (on top of the shared
// theme, which the host page can override with CSS custom properties).

import { THEME_CSS } from "./notifications-shared.js";

export const PAGE_CSS = `${THEME_CSS}
:host { display: block; color: var(--_fg); font: 15px/1.45 var(--_font); }
.page { box-sizing: border-box; max-width: 720px; margin: 0 auto; background: var(--_bg);
  border: 1px solid var(--_border); border-radius: 14px; overflow: hidden; }
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 12px; padding: 14px 16px;
  border-bottom: 1px solid var(--_border); }
h2 { margin: 0; font-size: 20px; flex: 1 1 auto; }
.tools { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
button { font: inherit; color: inherit; cursor: pointer; }
.segmented { display: inline-flex; border: 1px solid var(--_border); border-radius: 999px; overflow: hidden; }
.segmented button { border: 0; background: transparent; padding: 6px 12px; font-size: 14px; }
.segmented button[aria-pressed="true"] { background: var(--_accent); color: var(--_bg); font-weight: 600; }
.action { border: 1px solid var(--_border); background: var(--_surface); border-radius: 999px;
  padding: 6px 12px; font-size: 14px; }
.action:hover { border-color: var(--_accent); }
button:focus-visible, a:focus-visible, summary:focus-visible, input:focus-visible {
  outline: 3px solid var(--_accent); outline-offset: 2px; }
button:disabled { opacity: .55; cursor: default; }
ol { list-style: none; margin: 0; padding: 0; }
.item { position: relative; display: flex; gap: 12px; align-items: flex-start; padding: 12px 16px;
  border-bottom: 1px solid var(--_border); transition: background-color 600ms ease; }
.item.unread { background: var(--_unread-bg); }
.item.unread::before { content: ""; position: absolute; left: 0; top: 0; bottom: 0; width: 4px;
  background: var(--_accent); }
.avatar { flex: none; width: 40px; height: 40px; border-radius: 50%; background: var(--_surface);
  border: 1px solid var(--_border); display: grid; place-items: center; font-weight: 700;
  color: var(--_muted); overflow: hidden; }
.avatar img { width: 100%; height: 100%; object-fit: cover; }
.avatars { flex: none; display: flex; }
.avatars .avatar { width: 32px; height: 32px; font-size: 13px; margin-left: -10px; border: 2px solid var(--_bg); }
.avatars .avatar:first-child { margin-left: 0; }
.body { flex: 1 1 auto; min-width: 0; }
.text { margin: 0; overflow-wrap: anywhere; }
.actor { font-weight: 700; }
.title { color: var(--_accent); font-weight: 600; text-decoration: none; }
a.title:hover { text-decoration: underline; }
.preview { margin: 4px 0 0; padding: 6px 10px; border-left: 3px solid var(--_border); color: var(--_fg);
  background: var(--_surface); border-radius: 0 8px 8px 0; overflow-wrap: anywhere; white-space: pre-wrap; }
.meta { margin: 4px 0 0; color: var(--_muted); font-size: 13px; display: flex; gap: 8px; flex-wrap: wrap; }
.tag { font-weight: 700; color: var(--_accent); }
.item:not(.unread) .tag { display: none; }
.total { flex: none; align-self: center; min-width: 28px; padding: 2px 8px; border-radius: 999px;
  background: var(--_surface); border: 1px solid var(--_border); text-align: center; font-weight: 700; font-size: 13px; }
.delete { flex: none; width: 36px; height: 36px; border: 0; border-radius: 50%; background: transparent;
  color: var(--_muted); font-size: 20px; line-height: 1; }
.delete:hover { background: var(--_surface); color: var(--_danger); }
.thumb { flex: none; box-sizing: border-box; width: 56px; height: 56px; border-radius: 8px;
  overflow: hidden; background: var(--_surface); border: 1px solid var(--_border); display: block; }
.thumb img { display: block; width: 100%; height: 100%; object-fit: cover; }
.menu-wrap { position: relative; flex: none; }
.menu-button { width: 36px; height: 36px; border: 0; border-radius: 50%; background: transparent;
  color: var(--_muted); font-size: 20px; line-height: 1; }
.menu-button:hover, .menu-button[aria-expanded="true"] { background: var(--_surface); color: var(--_fg); }
.menu { position: absolute; right: 0; top: 38px; z-index: 2; min-width: 200px; padding: 4px;
  background: var(--_bg); border: 1px solid var(--_border); border-radius: 10px;
  box-shadow: 0 6px 24px rgba(0,0,0,.12); display: grid; }
.menu [role=menuitem] { text-align: left; border: 0; background: transparent; padding: 8px 10px;
  border-radius: 6px; font-size: 14px; }
.menu [role=menuitem]:hover, .menu [role=menuitem]:focus { background: var(--_surface); }
.quick-wrap { margin-top: 6px; }
.quick { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.quick-action { border: 1px solid var(--_border); background: var(--_bg); border-radius: 999px;
  padding: 3px 10px; font-size: 13px; }
.quick-action[aria-expanded="true"] { border-color: var(--_accent); }
.quick-status { color: var(--_muted); font-size: 13px; }
.quick-panel { margin-top: 6px; }
.emoji-choices { display: flex; gap: 4px; }
.emoji { border: 1px solid var(--_border); background: var(--_bg); border-radius: 8px; width: 36px;
  height: 36px; font-size: 18px; }
.reply-form { display: grid; gap: 6px; }
.reply-text { font: inherit; width: 100%; box-sizing: border-box; padding: 6px 8px;
  border: 1px solid var(--_border); border-radius: 8px; resize: vertical; }
.reply-buttons { display: flex; gap: 6px; }
.filters { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; font-size: 14px; }
.filters select { font: inherit; font-size: 14px; min-height: 30px; }
.filters label { display: inline-flex; gap: 6px; align-items: center; }
.mutes-section { padding: 0 16px 16px; }
.mutes-heading { margin: 0 0 6px; font-weight: 600; font-size: 14px; }
.mutes-list { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
.mutes-list li { display: flex; gap: 8px; align-items: center; justify-content: space-between; }
.state { padding: 40px 16px; text-align: center; color: var(--_muted); }
.state strong { display: block; color: var(--_fg); font-size: 17px; margin-bottom: 4px; }
.state .action { margin-top: 12px; }
.spinner { width: 28px; height: 28px; margin: 0 auto 10px; border-radius: 50%;
  border: 3px solid var(--_border); border-top-color: var(--_accent); animation: spin 900ms linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .spinner { animation: none; } .item { transition: none; } }
.more { padding: 12px 16px; text-align: center; }
.sentinel { display: block; height: 1px; }
.notice { margin: 0; padding: 8px 16px; background: var(--_surface); color: var(--_danger); font-size: 14px; }
details.prefs { border-top: 1px solid var(--_border); }
details.prefs summary { padding: 14px 16px; font-weight: 600; cursor: pointer; }
.prefs form { padding: 0 16px 16px; display: grid; gap: 10px; }
.prefs label { display: flex; gap: 10px; align-items: center; min-height: 32px; }
.prefs input { width: 20px; height: 20px; accent-color: var(--_accent); }
.prefs fieldset { border: 0; margin: 0; padding: 0; display: grid; gap: 4px; }
.prefs legend { padding: 0 0 4px; font-weight: 600; font-size: 14px; }
.prefs select { font: inherit; min-height: 32px; max-width: 100%; }
.prefs input[type=time] { width: auto; height: auto; font: inherit; min-height: 32px; }
.prefs .quiet label { flex-wrap: wrap; }
.prefs .push-device { justify-self: start; margin-top: 4px; }
.prefs-status { margin: 0; color: var(--_muted); font-size: 13px; min-height: 1.2em; }
@media (max-width: 520px) {
  .page { border-radius: 0; border-left: 0; border-right: 0; }
  .bar { padding: 12px; }
  h2 { flex-basis: 100%; }
  .item { padding: 12px; gap: 10px; }
  .avatar { width: 34px; height: 34px; }
}
`;
