// Users: the list with search and paging, and a new user.

import { admin } from '../api.js';
import { clear, dialog, el, field, fmtDate, pager, table } from '../ui.js';

const PAGE = 25;

export async function render(ctx) {
  const [profiles, live] = await Promise.all([admin('list-users-full'), admin('dispatcher/list-active')]);
  if (!ctx.alive()) return;
  const onlineUsers = new Map();
  for (const conn of Object.values(live)) onlineUsers.set(conn.Username, (onlineUsers.get(conn.Username) ?? 0) + 1);
  const users = Object.entries(profiles).sort(([a], [b]) => a.localeCompare(b));

  const search = el('input', { id: 'user-search', type: 'search', placeholder: 'Name, e-mail or device', autocomplete: 'off' });
  const list = el('div', { id: 'user-list' });
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = users.filter(
      ([name, p]) =>
        !q ||
        name.toLowerCase().includes(q) ||
        (p.AccountName ?? '').toLowerCase().includes(q) ||
        (p.Emails ?? []).some((e) => e.toLowerCase().includes(q)) ||
        Object.values(p.Devices ?? {}).some((d) => (d.FriendlyName ?? '').toLowerCase().includes(q)),
    );
    clear(
      list,
      pager(shown, PAGE, (slice) =>
        table(
          [
            { title: 'User' },
            { title: 'Devices', class: 'num' },
            { title: 'Online', class: 'num' },
            { title: 'Protected items', class: 'num hide-narrow' },
            { title: 'Vaults', class: 'num hide-narrow' },
            { title: 'Created', class: 'hide-narrow' },
            { title: 'State' },
          ],
          slice.map(([name, p]) => ({
            dataset: { user: name },
            cells: [
              el('a', { href: `#/users/${encodeURIComponent(name)}`, text: name }),
              String(Object.keys(p.Devices ?? {}).length),
              String(onlineUsers.get(name) ?? 0),
              String(Object.keys(p.Sources ?? {}).length),
              String(Object.keys(p.Destinations ?? {}).length),
              fmtDate(p.CreateTime),
              p.IsSuspended ? el('span', { class: 'badge s-bad', text: 'Suspended' }) : el('span', { class: 'badge s-ok', text: 'Active' }),
            ],
          })),
          { empty: q ? 'No user matches.' : 'No users yet.', caption: 'Users' },
        ),
      ),
    );
  };
  search.addEventListener('input', draw);
  draw();

  clear(
    ctx.view,
    el(
      'div',
      { class: 'page-head' },
      el('h1', { text: 'Users' }),
      el('div', { class: 'actions' }, el('button', { type: 'button', id: 'user-new', class: 'primary', text: 'New user', on: { click: () => newUser(ctx) } })),
    ),
    el('div', { class: 'toolbar' }, el('div', {}, field('Search', search))),
    el('p', { class: 'muted', text: `${users.length} user${users.length === 1 ? '' : 's'}` }),
    list,
  );
}

function newUser(ctx) {
  const name = el('input', { id: 'new-user-name', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', required: true });
  const password = el('input', { id: 'new-user-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  dialog({
    id: 'dlg-new-user',
    title: 'New user',
    submitText: 'Create user',
    body: [
      field('User name', name, 'Letters, digits and . _ @ -'),
      field('Password', password, 'At least 8 characters. The user should change it from a device before a vault is set up: whoever typed it here could derive the key that protects the vault secrets.'),
    ],
    submit: async () => {
      if (!/^[A-Za-z0-9_.@-]{1,255}$/.test(name.value.trim())) throw new Error('A user name is 1 to 255 letters, digits or . _ @ -');
      if (password.value.length < 8) throw new Error('The password needs at least 8 characters.');
      await admin('add-user', { TargetUser: name.value.trim(), TargetPassword: password.value });
      ctx.rerender();
    },
  });
  name.focus();
}
