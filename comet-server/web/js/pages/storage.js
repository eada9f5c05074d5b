// Storage: the buckets this server hosts, with owners and sizes; register and delete buckets.

import { admin } from '../api.js';
import { checkbox, clear, deleteButton, dialog, el, field, fmtBytes, fmtCount, select, table, timeEl, toast } from '../ui.js';

export async function render(ctx) {
  const [buckets, users] = await Promise.all([admin('storage/list-buckets'), admin('list-users')]);
  if (!ctx.alive()) return;
  const entries = Object.entries(buckets).sort(([, a], [, b]) => (a.Owner || '').localeCompare(b.Owner || '') || a.CreateTime - b.CreateTime);
  const total = entries.reduce((sum, [, b]) => sum + (b.Size ?? 0), 0);
  const rows = entries.map(([id, b]) => ({
    dataset: { bucket: id },
    cells: [
      el('code', { text: id }),
      b.Owner ? el('a', { href: `#/users/${encodeURIComponent(b.Owner)}`, text: b.Owner }) : el('span', { class: 'muted', text: 'none' }),
      b.AppendOnly ? 'Append-only' : 'Read and write',
      timeEl(b.CreateTime),
      b.Size === null || b.Size === undefined ? el('span', { class: 'muted', text: 'cannot be listed' }) : fmtBytes(b.Size),
      b.Objects === null || b.Objects === undefined ? '—' : fmtCount(b.Objects),
      {
        class: 'actions-cell',
        node: deleteButton({
          title: 'Delete this bucket',
          text: 'Its key stops working at once; the objects stay in the store (remove them there if you mean to). Vaults in this bucket can no longer be used.',
          label: 'Delete bucket',
          action: async () => {
            await admin('storage/delete-bucket', { BucketID: id });
            toast('The bucket is deleted.');
            ctx.rerender();
          },
        }),
      },
    ],
  }));
  clear(
    ctx.view,
    el(
      'div',
      { class: 'page-head' },
      el('h1', { text: 'Storage' }),
      el('div', { class: 'actions' }, el('button', { type: 'button', id: 'bucket-new', class: 'primary', text: 'Register bucket', on: { click: () => register(ctx, users) } })),
    ),
    el('p', { class: 'muted', text: `${entries.length} bucket${entries.length === 1 ? '' : 's'}, ${fmtBytes(total)} in all. Devices make their bucket when they first use a server vault.` }),
    table(
      [{ title: 'Bucket' }, { title: 'Owner' }, { title: 'Mode' }, { title: 'Created' }, { title: 'Size', class: 'num' }, { title: 'Objects', class: 'num' }, { title: '' }],
      rows,
      { empty: 'No buckets yet.', caption: 'Buckets' },
    ),
  );
}

function register(ctx, users) {
  const owner = select({ id: 'bucket-owner' }, users.map((u) => [u, u]), { placeholder: 'No owner' });
  const appendOnly = checkbox('Append-only (agents add objects; deletes need a retention grant)', { id: 'bucket-append-only' });
  const result = el('div', { id: 'bucket-result' });
  dialog({
    id: 'dlg-bucket',
    title: 'Register a bucket',
    submitText: 'Register',
    body: [field('Owner', owner), appendOnly, result],
    submit: async (dlg) => {
      const fields = { AppendOnly: String(appendOnly.querySelector('input').checked) };
      if (owner.value) fields.TargetUser = owner.value;
      const answer = await admin('storage/register-bucket', fields);
      clear(
        result,
        el('p', { text: 'The key is shown once: the server keeps only its hash.' }),
        el('dl', { class: 'props' }, el('dt', { text: 'Bucket' }), el('dd', {}, el('code', { text: answer.BucketValue })), el('dt', { text: 'Key' }), el('dd', {}, el('code', { id: 'bucket-key', text: answer.SecretKey }))),
      );
      dlg.querySelector('button[type="submit"]').hidden = true;
      dlg.addEventListener('close', () => ctx.rerender());
      return true;
    },
  });
}
